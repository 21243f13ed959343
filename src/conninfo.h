/*
 * conninfo.h
 *	  Member addresses (conninfo.c): the check every conninfo passes and
 *	  the masked forms in which addresses are logged or shown.
 */
#ifndef RAFT_CONNINFO_H
#define RAFT_CONNINFO_H



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

#endif							/* RAFT_CONNINFO_H */
