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
 *	  raftctl_setup.c	 init and join: the server's OS user, programs,
 *						 bindir, the node's paths and files
 *	  raftctl_node_conf.c	the node's configuration: raft_ext.conf and its
 *						 include line, pg_hba.conf, password file, address
 *	  raftctl_node_server.c	the node's local server: start, connect, wait
 *	  raftctl_init.c	 init: a new cluster's first node
 *	  raftctl_join.c	 join: a new member cloned from the leader
 *	  raftctl_remove.c	 remove: a member out through the Raft log
 *	  raftctl_reinit.c	 reinit: a member re-cloned, or removed and joined
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
	char		slots[512];		/* on the primary: its members' slots,
								 * "id=state/logical,..." */
	char		slot[16];		/* this member's slot on the primary, "" if none */
	char		logical[16];	/* its copies of the failover slots (the
								 * primary's raft_cluster.logical_slots), "" */
	char		failover_slots[512];	/* its failover slots (a standby: the
										 * synced copies) "name=confirmed_flush
										 * bytes,..." */
	long long	logical_behind; /* bytes its copies trail the primary's
								 * slots (the most of any), -1 unknown */
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
/*
 * The next item of a list "key=value,..." (the probe's answers): its key
 * and value, and 'p' moved past it; false at the end (or at an item
 * without '=').
 */
extern bool list_next_item(const char **p, const char **key, int *key_len,
						   const char **value, int *value_len);
/* The number after "name=" in such a list, or -1 if it has no such item. */
extern long long list_position(const char *list, const char *name, int name_len);
extern PGconn *start_member_connection(const char *conninfo);
extern char *member_conninfo(const char *conninfo, const char *options_conninfo);
extern PGconn *connect_to(const char *conninfo, char *error, size_t errlen);
extern void host_of(const char *conninfo, char *out, size_t outlen);
extern long long now_ms(void);
extern void probe_all(Member *members, int n);
extern int	read_members(const char *conninfo, Member *members, char *cluster,
						 size_t clen);
extern const Member *primary_of(const Member *members, int n);
extern Member *member_by_id(Member *members, int n, int id);
extern Member *leader_of(Member *members, int n);
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
extern bool confirmed(const char *question);
extern int	cmd_switchover(const char *conninfo, int target, int timeout, bool force);
extern int	cmd_failover(const char *conninfo, int candidate, int timeout, bool force);

/* raftctl_setup.c */

/* The roles raft_ext connects as (README, "Roles"). */
#define ROLE_TRANSPORT		"raft_transport"
#define ROLE_REPLICATION	"raft_replication"
#define ROLE_REWIND			"raft_rewind"

/* A node's paths: the data directory and raftctl's files beside it. */
typedef struct NodePaths
{
	char		datadir[MAXPGPATH];	/* absolute */
	char		parent[MAXPGPATH];	/* its parent directory */
	char		confdir[MAXPGPATH];	/* <datadir>.raft_ext */
	char		conf[MAXPGPATH];	/* <confdir>/raft_ext.conf */
	char		passfile[MAXPGPATH];	/* <confdir>/pgpass */
	char		logfile[MAXPGPATH];	/* <confdir>/postgresql.log */
	char		clonedir[MAXPGPATH];	/* <datadir>.raftctl-clone (join) */
	/* --config-dir (Debian's layout); all "" when the data directory has it */
	char		config_dir[MAXPGPATH];
	char		config_file[MAXPGPATH];	/* <config_dir>/postgresql.conf */
	char		hba_file[MAXPGPATH];	/* its hba_file (check_config_dir) */
} NodePaths;

/* What raft_ext.conf says. */
typedef struct NodeSettings
{
	const char *for_command;	/* "init" or "join" */
	int			node_id;
	const char *host;
	int			port;
	const char *peers;			/* the raft_ext.peers value */
	const char *cluster_name;	/* NULL or "": not set */
	const char *preload;		/* shared_preload_libraries */
	const char *socket_dir;		/* NULL: the server's default */
} NodeSettings;

/* A growing string (buf_append). */
typedef struct StrBuf
{
	char	   *data;
	size_t		len;
	size_t		cap;
} StrBuf;

extern char server_user[64];
extern bool become_server_user(const char *user);
extern bool make_dir_for_user(const char *path, const char *user);
extern int	run_program(char *const argv[], char *out, size_t outlen);
extern void kill_programs_on(const char *program, const char *dir);
extern bool find_bindir(const char *given, char *out, size_t outlen);
extern bool node_paths(const char *datadir, NodePaths *p);
extern int	dir_is_empty(const char *path);
extern bool file_exists_in(const char *dir, const char *name);
extern bool remove_tree(const char *path);
extern char *read_text_file(const char *path);
extern bool write_file_atomically(const char *path, const char *content, mode_t mode);
extern void buf_append(StrBuf *b, const char *fmt,...) pg_attribute_printf(2, 3);

/* raftctl_server_config.c */
extern bool set_config_dir(NodePaths *p, const char *dir);
extern void server_config_file(const NodePaths *p, const char *dir, char *out, size_t outlen);
extern void server_hba_file(const NodePaths *p, const char *dir, char *out, size_t outlen);
extern bool server_setting(const char *bindir, const NodePaths *p, const char *name,
						   char *out, size_t outlen);
extern bool check_config_dir(const char *bindir, NodePaths *p);
extern const char *server_start_options(const NodePaths *p, char *buf, size_t buflen);

/* raftctl_node_conf.c */
extern void buf_append_conf_string(StrBuf *b, const char *value);
extern bool conninfo_add(char *buf, size_t buflen, const char *key, const char *value);
extern bool conninfo_for_node(const char *conninfo, const char *host, int port,
							  const char *passfile, char *out, size_t outlen);
extern bool write_raft_conf(const NodePaths *p, const NodeSettings *s);
extern bool valid_socket_dir(const char *dir);
extern bool ensure_include_line(const char *config_file, const char *conf);
extern bool ensure_hba_lines(const char *hba_file, const char *address);
extern bool file_sets_raft_ext(const char *path);
extern bool datadir_free_of_raft_ext(const NodePaths *p, const char *command);
extern int	raft_conf_node_id(const char *conf);
extern bool generate_password(char *out, size_t outlen);
extern bool read_password_file(const char *path, char *out, size_t outlen);
extern bool write_passfile(const char *path, const char *password);
extern bool given_password(const char *password_file, const NodePaths *p,
						   char *pw, size_t len, bool *found);
extern bool make_conf_dir(const NodePaths *p);
extern bool parse_address(const char *address, char *host, size_t hostlen, int *port);

/* raftctl_node_server.c */
extern pid_t running_postmaster(const char *datadir, int *port, char *sockdir, size_t socklen);
extern bool start_server(const char *bindir, const NodePaths *p);
extern PGconn *connect_local(const char *datadir, const char *host, char *error, size_t errlen);
extern char *query_value(PGconn *conn, const char *sql);
extern bool query_true(PGconn *conn, const char *sql);
extern bool wait_until(bool (*cond) (void *arg), void *arg, int timeout_s, const char *what);

/*
 * The lifecycle commands: conninfo is -d's (if given before the command),
 * argv the arguments after the command's name.  Returns the exit code.
 */
typedef int (*LifecycleCommand) (const char *conninfo, int argc, char **argv);

/* raftctl_init.c */
extern int	cmd_init(const char *conninfo, int argc, char **argv);

/* raftctl_join.c */
extern int	cmd_join(const char *conninfo, int argc, char **argv);

/* raftctl_remove.c */
extern int	cmd_remove(const char *conninfo, int argc, char **argv);

/* raftctl_reinit.c */
extern int	cmd_reinit(const char *conninfo, int argc, char **argv);

#endif							/* RAFTCTL_H */
