/*
 * raftctl.h
 *	  What the files of raftctl share: exit codes, a member as raftctl sees
 *	  it, and the functions each file offers the others.
 *
 *	  raftctl.c			 usage, errors, the command line, main
 *	  raftctl_members.c	 reaching the members: -d's options, connections in
 *						 parallel, the probe query, health
 *	  raftctl_output.c	 list and status as a table or JSON
 *	  raftctl_commands.c list (and status --watch) and history
 *	  raftctl_transfer.c switchover and failover
 */
#ifndef RAFTCTL_H
#define RAFTCTL_H

#include "postgres_fe.h"

#include "libpq-fe.h"

#define RAFTCTL_VERSION	"1.2"

/* list and status: the cluster's health */
#define EXIT_HEALTHY	0
#define EXIT_DEGRADED	1
#define EXIT_NO_PRIMARY 2
/* every command */
#define EXIT_PRIVILEGE	3
#define EXIT_FAILED		4		/* switchover or failover failed or refused */
#define EXIT_USAGE		64		/* sysexits.h's EX_USAGE */
#define EXIT_UNREACHABLE 69		/* sysexits.h's EX_UNAVAILABLE */

#define MAX_MEMBERS		64
#define CONNECT_TIMEOUT 5		/* seconds, for all members together */

typedef enum Phase
{
	PHASE_CONNECTING,
	PHASE_QUERYING,
	PHASE_DONE
} Phase;

/* What one member says of itself (or why it said nothing). */
typedef struct Member
{
	int			id;
	char	   *conninfo;		/* as raft_peers shows it to us */
	char		host[256];
	PGconn	   *conn;
	Phase		phase;
	PostgresPollingStatusType poll_status;
	bool		reachable;
	char		error[256];
	char		raft_role[32];
	long long	term;
	int			leader;			/* 0: none known */
	bool		has_lease;
	bool		in_recovery;
	int			timeline;
	char		lsn[32];
	unsigned long long lsn_bytes;
	char		state[32];
	char		standing[32];	/* timeline_standing, "" if unknown */
	char		raft_error[256];	/* raft_status.error */
	char		auto_promote[16];
} Member;

typedef enum Format
{
	FORMAT_TABLE,
	FORMAT_JSON
} Format;


extern const char *progname;
/* The options of -d, parsed: used for every member but host and port. */
extern PQconninfoOption *d_options;
extern const char *const health_names[];

/* raftctl.c */
extern int	exit_code_of(const PGresult *res, int otherwise);
extern const char *trimmed(const char *message);
extern int	report_failure(PGconn *conn, const PGresult *res, int otherwise,
						   const char *what, int hint_code, const char *hint);

/* raftctl_members.c */
extern PGconn *start_member_connection(const char *conninfo);
extern PGconn *connect_to(const char *conninfo, char *error, size_t errlen);
extern void host_of(const char *conninfo, char *out, size_t outlen);
extern long long now_ms(void);
extern void probe_all(Member *members, int n);
extern int	read_members(const char *conninfo, Member *members, char *cluster,
						 size_t clen);
extern const Member *primary_of(const Member *members, int n);
extern Member *member_by_id(Member *members, int n, int id);
extern const char *pg_role(const Member *m, const Member *primary);
extern int	health_of(const Member *members, int n);

/* raftctl_output.c */
extern void json_string(const char *s);
extern void print_json(const char *cluster, const Member *members, int n);
extern void print_table(const char *cluster, const Member *members, int n);

/* raftctl_commands.c */
extern int	cmd_list(const char *conninfo, Format format, int watch, int count);
extern int	cmd_history(const char *conninfo, Format format);

/* raftctl_transfer.c */
extern int	cmd_switchover(const char *conninfo, int target, int timeout, bool force);
extern int	cmd_failover(const char *conninfo, int candidate, int timeout, bool force);

#endif							/* RAFTCTL_H */
