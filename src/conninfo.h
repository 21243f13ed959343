/*
 * conninfo.h
 *	  Member addresses (conninfo.c): the check every conninfo passes and
 *	  the masked forms in which addresses are logged or shown.
 */
#ifndef RAFT_CONNINFO_H
#define RAFT_CONNINFO_H

#include "lib/stringinfo.h"

#include "libpq-fe.h"

/* Parse a conninfo with libpq; NULL if it is empty or does not parse. */
extern PQconninfoOption *raft_conninfo_parse(const char *conninfo);

/* Whether a conninfo keyword says where to connect (host, hostaddr, port). */
extern bool raft_conninfo_is_target(const char *keyword);

/*
 * Append keyword=value to a conninfo being built (a space first unless buf
 * is empty), the value quoted as libpq reads it: always if always_quote,
 * else only when it is empty or holds white space, a quote or a backslash.
 * The one place that quotes a conninfo value.
 */
extern void raft_conninfo_append(StringInfo buf, const char *keyword,
								 const char *value, bool always_quote);

/*
 * The conninfo with its user replaced by 'user' and its passfile by
 * 'passfile' (each only when non-empty), palloc'd: how this node connects
 * to a member whose address is the cluster's (raft_ext.rewind_user,
 * raft_ext.passfile).  The conninfo itself if it does not parse.
 */
extern char *raft_conninfo_with(const char *conninfo, const char *user,
								const char *passfile);

/*
 * Copy one conninfo out of a raft_ext.peers value into buf, stopping at the
 * first ';' that is not quoted or escaped; returns the position after it.
 */
extern const char *raft_conninfo_scan(const char *p, StringInfo buf);

/* The host and port a conninfo names, libpq's defaults filled in. */
extern bool raft_conninfo_target(const char *conninfo, char *host,
								 size_t hostlen, int *port);
/* Whether two conninfos name the same server (host and port). */
extern bool raft_conninfo_same_server(const char *a, const char *b);
/*
 * NULL if conninfo is acceptable as a member address (no control character,
 * parsed by libpq), else a palloc'd sentence saying why not, which never
 * quotes the conninfo (it may hold a password).
 */
extern char *raft_conninfo_problem(const char *conninfo);

/*
 * The conninfo rebuilt from its parsed options with every secret one
 * (password, sslpassword) replaced by asterisks; asterisks alone if it does
 * not parse.  palloc'd.  The only form in which an address is logged or
 * shown to non-superusers.
 */
extern char *raft_conninfo_masked(const char *conninfo);

/*
 * A libpq message about a conninfo with every double-quoted piece (libpq
 * quotes the text it could not parse, which may be a password) replaced by
 * asterisks, unless it is a connection keyword or a lone punctuation
 * character; trailing white space removed.  palloc'd.
 */
extern char *raft_conninfo_mask_message(const char *message);

/*
 * Free text with the value of every password= (and sslpassword=) replaced
 * by asterisks.  palloc'd.
 */
extern char *raft_conninfo_mask_text(const char *text);

#endif							/* RAFT_CONNINFO_H */
