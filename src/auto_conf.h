/*
 * auto_conf.h
 *	  Settings raft_ext writes into postgresql.auto.conf (auto_conf.c).
 */
#ifndef RAFT_EXT_AUTO_CONF_H
#define RAFT_EXT_AUTO_CONF_H

/*
 * Set 'name' to 'value' in postgresql.auto.conf as ALTER SYSTEM would
 * (durably, under AutoFileLock; value NULL removes it, as ALTER SYSTEM
 * RESET does) and, if that changed the file (*changed), signal the
 * postmaster to reload.  On failure logs and returns false;
 * never throws.
 */
extern bool raft_auto_conf_set(const char *name, const char *value,
							   bool *changed);

#endif							/* RAFT_EXT_AUTO_CONF_H */
