/*
 * raftctl_join.c
 *	  raftctl join: a new member, cloned from the leader:
 *
 *	  raftctl join -D DATADIR --node-id N --address HOST:PORT
 *		  --from CONNINFO-OF-ANY-MEMBER [--user OSUSER] [--bindir DIR]
 *		  [--password-file FILE] [--socket-dir DIR] [--adopt]
 *		  [--config-dir DIR]
 *
 * Everything that can refuse is checked before anything changes: --from
 * must connect (a wrong password is its connection error), a leader must
 * be known and reachable with --from's credentials and allowed to run
 * raft_ext.add_node, neither the id nor the address may be a member's, the
 * data directory must be empty, and the leader must accept the roles'
 * password.  Then pg_basebackup clones the leader into "<DATADIR>.raftctl-
 * clone", which becomes DATADIR by a rename only once it is complete and
 * configured: a raftctl killed mid-clone leaves no half-made DATADIR, and
 * the same command run again removes the leftover and clones anew.  The
 * clone loses the leader's Raft state directory (the new member starts
 * with none: raft_ext would otherwise move it aside as a clone's, see
 * src/storage.c) and gets this node's own raft_ext.conf; it starts as a
 * standby, and raft_ext.add_node on the leader adds it, staged: a learner
 * until it has caught up, then a voter.  With --config-dir (Debian's
 * layout: pg_createcluster, then its data directory removed) the
 * configuration stays there: the clone loses the leader's configuration
 * files, and raftctl's lines go to the postgresql.conf and pg_hba.conf of
 * DIR.
 */
#include <sys/stat.h>
#include <unistd.h>

#include "raftctl.h"

#define JOIN_TIMEOUT	300		/* seconds to become a streaming voter */
#define NAMEDATALEN_RAFTCTL	64	/* a slot name's room (the server's NAMEDATALEN) */

typedef struct JoinOptions
{
	const char *datadir;
	int			node_id;
	const char *address;
	const char *from;
	const char *user;
	const char *bindir;
	const char *password_file;
	const char *socket_dir;
	const char *config_dir;
	bool		adopt;			/* DATADIR is a standby of the leader already */
} JoinOptions;

/* The cluster as its leader sees it. */
typedef struct ClusterView
{
	PGconn	   *leader;
	int			leader_id;
	int			n;
	int			ids[MAX_MEMBERS];
	char	   *conninfos[MAX_MEMBERS];
	char		leader_host[256];
	int			leader_port;
	char		cluster_name[128];
	char		preload[1024];
	char		state_dir[MAXPGPATH];
	bool		may_add;		/* EXECUTE on raft_ext.add_node */
} ClusterView;

/* What a join needs to wait for: the leader and the local server. */
typedef struct JoinWait
{
	PGconn	   *leader;
	const NodePaths *paths;
	const char *host;
	int			node_id;
} JoinWait;

static void
join_usage(FILE *f)
{
	fprintf(f, "Usage: %s join -D DATADIR --node-id ID --address HOST:PORT --from CONNINFO\n"
			"           [--user OSUSER] [--bindir DIR] [--password-file FILE]\n"
			"           [--socket-dir DIR] [--adopt] [--config-dir DIR]\n", progname);
}

/* Parse join's arguments; false (usage) if they are wrong. */
static bool
parse_join_options(int argc, char **argv, JoinOptions *o)
{
	for (int i = 0; i < argc; i++)
	{
		const char *a = argv[i];
		const char **target;
		const char *id = NULL;

		if (strcmp(a, "--adopt") == 0)
		{
			o->adopt = true;
			continue;
		}
		if (strcmp(a, "-D") == 0 || strcmp(a, "--pgdata") == 0)
			target = &o->datadir;
		else if (strcmp(a, "--address") == 0)
			target = &o->address;
		else if (strcmp(a, "--from") == 0)
			target = &o->from;
		else if (strcmp(a, "--user") == 0)
			target = &o->user;
		else if (strcmp(a, "--bindir") == 0)
			target = &o->bindir;
		else if (strcmp(a, "--password-file") == 0)
			target = &o->password_file;
		else if (strcmp(a, "--socket-dir") == 0)
			target = &o->socket_dir;
		else if (strcmp(a, "--config-dir") == 0)
			target = &o->config_dir;
		else if (strcmp(a, "--node-id") == 0)
			target = &id;
		else
		{
			fprintf(stderr, "%s: join: unexpected argument \"%s\"\n", progname, a);
			return false;
		}
		if (i + 1 >= argc)
		{
			fprintf(stderr, "%s: %s needs a value\n", progname, a);
			return false;
		}
		*target = argv[++i];
		if (id)
		{
			char	   *end;
			long		v = strtol(id, &end, 10);

			if (*end != '\0' || v < 1 || v > 2147483647L)
			{
				fprintf(stderr, "%s: --node-id must be an integer from 1 to 2147483647\n", progname);
				return false;
			}
			o->node_id = (int) v;
		}
	}
	if (o->datadir == NULL || o->node_id == 0 || o->address == NULL || o->from == NULL)
	{
		fprintf(stderr, "%s: join needs -D, --node-id, --address and --from\n", progname);
		return false;
	}
	if (o->socket_dir && !valid_socket_dir(o->socket_dir))
		return false;
	return true;
}

/* host and port of a conninfo (libpq's defaults when absent). */
static void
conninfo_host_port(const char *conninfo, char *host, size_t hostlen, int *port)
{
	PQconninfoOption *opts = PQconninfoParse(conninfo, NULL);
	const char *h = NULL;
	const char *p = NULL;

	for (PQconninfoOption *o = opts; o && o->keyword; o++)
	{
		if (o->val == NULL || o->val[0] == '\0')
			continue;
		if (strcmp(o->keyword, "host") == 0 || (h == NULL && strcmp(o->keyword, "hostaddr") == 0))
			h = o->val;
		else if (strcmp(o->keyword, "port") == 0)
			p = o->val;
	}
	strlcpy(host, h ? h : "localhost", hostlen);
	*port = p ? atoi(p) : 5432;
	if (opts)
		PQconninfoFree(opts);
}

/*
 * Connect to the leader at host:port with everything else (user, password,
 * dbname, TLS) from --from: the operator's credentials reach every member.
 */
static PGconn *
connect_with_from_credentials(const char *from, const char *host, int port)
{
	PQconninfoOption *opts = PQconninfoParse(from, NULL);
	const char *keys[64];
	const char *vals[64];
	char		portstr[16];
	int			k = 0;
	PGconn	   *conn;

	snprintf(portstr, sizeof(portstr), "%d", port);
	for (PQconninfoOption *o = opts; o && o->keyword && k < 58; o++)
	{
		if (o->val == NULL || o->val[0] == '\0' || strcmp(o->keyword, "host") == 0 ||
			strcmp(o->keyword, "hostaddr") == 0 || strcmp(o->keyword, "port") == 0)
			continue;
		keys[k] = o->keyword;
		vals[k++] = o->val;
	}
	keys[k] = "host";
	vals[k++] = host;
	keys[k] = "port";
	vals[k++] = portstr;
	keys[k] = "connect_timeout";
	vals[k++] = "5";
	keys[k] = "application_name";
	vals[k++] = "raftctl";
	keys[k] = NULL;
	vals[k] = NULL;
	conn = PQconnectdbParams(keys, vals, 0);
	if (opts)
		PQconninfoFree(opts);
	return conn;
}

/* The leader's id as the node 'conn' knows it (0: none) and that node's id. */
static int
known_leader(PGconn *conn, int *self_id)
{
	PGresult   *res = PQexec(conn, "SELECT coalesce(leader_id, 0), node_id FROM raft_ext.raft_status");
	int			leader = 0;

	if (PQresultStatus(res) == PGRES_TUPLES_OK && PQntuples(res) == 1)
	{
		leader = atoi(PQgetvalue(res, 0, 0));
		*self_id = atoi(PQgetvalue(res, 0, 1));
	}
	else
		fprintf(stderr, "%s: cannot read raft_status on the --from node: %s\n", progname,
				trimmed(PQerrorMessage(conn)));
	PQclear(res);
	return leader;
}

/* Read the membership and the settings a member needs from the leader. */
static bool
read_leader_view(ClusterView *v)
{
	PGresult   *res = PQexec(v->leader,
							 "SELECT peer_id, conninfo, is_self FROM raft_ext.raft_peers ORDER BY peer_id");
	char	   *val;

	if (PQresultStatus(res) != PGRES_TUPLES_OK)
	{
		fprintf(stderr, "%s: cannot read raft_peers on the leader: %s\n", progname,
				trimmed(PQerrorMessage(v->leader)));
		PQclear(res);
		return false;
	}
	v->n = Min(PQntuples(res), MAX_MEMBERS);
	for (int i = 0; i < v->n; i++)
	{
		v->ids[i] = atoi(PQgetvalue(res, i, 0));
		v->conninfos[i] = strdup(PQgetvalue(res, i, 1));
		if (v->ids[i] == v->leader_id)
			conninfo_host_port(v->conninfos[i], v->leader_host, sizeof(v->leader_host),
							   &v->leader_port);
	}
	PQclear(res);
	val = query_value(v->leader, "SELECT current_setting('raft_ext.cluster_name')");
	strlcpy(v->cluster_name, val ? val : "", sizeof(v->cluster_name));
	free(val);
	val = query_value(v->leader, "SELECT current_setting('shared_preload_libraries')");
	strlcpy(v->preload, val ? val : "raft_ext", sizeof(v->preload));
	free(val);
	val = query_value(v->leader, "SELECT current_setting('raft_ext.state_directory')");
	strlcpy(v->state_dir, val ? val : "pg_raft", sizeof(v->state_dir));
	free(val);
	v->may_add = query_true(v->leader,
							"SELECT has_function_privilege('raft_ext.add_node(integer, text)', 'EXECUTE')");
	return v->leader_host[0] != '\0';
}

/*
 * Find the leader through --from and connect to it.  Returns 0 or the exit
 * code of a refusal (with its message).
 */
static int
reach_leader(const char *from, ClusterView *v)
{
	char		error[1024];
	PGconn	   *conn = connect_to(from, error, sizeof(error));
	int			from_id = 0;

	if (conn == NULL)
	{
		fprintf(stderr, "%s: cannot connect to the member given by --from: %s\n", progname, error);
		return EXIT_UNREACHABLE;
	}
	v->leader_id = known_leader(conn, &from_id);
	if (v->leader_id == 0)
	{
		fprintf(stderr, "%s: node %d knows no leader: a member joins only through a leader; "
				"check the cluster with raftctl list\n", progname, from_id);
		PQfinish(conn);
		return EXIT_FAILED;
	}
	if (v->leader_id == from_id)
		v->leader = conn;
	else
	{
		/* the leader's address from the member's view, then --from's credentials */
		char		lhost[256];
		int			lport;
		char	   *ci;
		char		sql[128];

		snprintf(sql, sizeof(sql), "SELECT conninfo FROM raft_ext.raft_peers WHERE peer_id = %d",
				 v->leader_id);
		ci = query_value(conn, sql);
		PQfinish(conn);
		if (ci == NULL)
		{
			fprintf(stderr, "%s: node %d does not know the address of the leader (node %d)\n",
					progname, from_id, v->leader_id);
			return EXIT_FAILED;
		}
		conninfo_host_port(ci, lhost, sizeof(lhost), &lport);
		free(ci);
		v->leader = connect_with_from_credentials(from, lhost, lport);
		if (PQstatus(v->leader) != CONNECTION_OK)
		{
			fprintf(stderr, "%s: cannot connect to the leader (node %d at %s:%d) with --from's "
					"credentials: %s\n", progname, v->leader_id, lhost, lport,
					trimmed(PQerrorMessage(v->leader)));
			return EXIT_UNREACHABLE;
		}
	}
	if (!query_true(v->leader, "SELECT role = 'leader' FROM raft_ext.raft_status"))
	{
		fprintf(stderr, "%s: node %d is no longer the leader: run the command again\n",
				progname, v->leader_id);
		return EXIT_FAILED;
	}
	return read_leader_view(v) ? 0 : EXIT_FAILED;
}

/*
 * Whether node_id (at host:port) is a member already (1), or neither its id
 * nor its address is (0); -1 refuses: one of them is another member's.
 */
static int
membership_of(const ClusterView *v, int node_id, const char *host, int port)
{
	for (int i = 0; i < v->n; i++)
	{
		char		mhost[256];
		int			mport;
		bool		same_address;

		conninfo_host_port(v->conninfos[i], mhost, sizeof(mhost), &mport);
		same_address = strcmp(mhost, host) == 0 && mport == port;
		if (v->ids[i] == node_id && same_address)
			return 1;
		if (v->ids[i] == node_id)
		{
			fprintf(stderr, "%s: node id %d is already a member, at %s:%d: choose another "
					"--node-id (raftctl list shows the members)\n", progname, node_id, mhost, mport);
			return -1;
		}
		if (same_address)
		{
			fprintf(stderr, "%s: the address %s:%d is already member %d's: choose another "
					"--address, or remove member %d first\n", progname, host, port, v->ids[i], v->ids[i]);
			return -1;
		}
	}
	return 0;
}

/*
 * Check the roles' password against the leader before anything changes:
 * a replication connection as raft_replication (what pg_basebackup and
 * the standby use).  The password goes as a parameter, never in a string.
 */
static bool
leader_accepts_password(const ClusterView *v, const char *password)
{
	char		portstr[16];
	const char *keys[] = {"host", "port", "user", "password", "replication",
	"dbname", "connect_timeout", "application_name", NULL};
	const char *vals[] = {v->leader_host, portstr, ROLE_REPLICATION, password, "true",
	"postgres", "5", "raftctl", NULL};
	PGconn	   *conn;
	bool		ok;

	snprintf(portstr, sizeof(portstr), "%d", v->leader_port);
	conn = PQconnectdbParams(keys, vals, 0);
	ok = PQstatus(conn) == CONNECTION_OK;
	if (!ok)
		fprintf(stderr, "%s: the leader (node %d) refuses the roles' password: %s\n"
				"%s: hint: --password-file must hold the password of the cluster's roles "
				"(the first node's %s.raft_ext/pgpass, or its password)\n",
				progname, v->leader_id, trimmed(PQerrorMessage(conn)), progname, "DATADIR");
	PQfinish(conn);
	return ok;
}

/* The conninfo of the leader for replication: pg_basebackup, primary_conninfo. */
static bool
replication_conninfo(const ClusterView *v, const NodePaths *p, int node_id,
					 char *out, size_t outlen)
{
	char		portstr[16];
	char		appname[32];

	snprintf(portstr, sizeof(portstr), "%d", v->leader_port);
	snprintf(appname, sizeof(appname), "raft_node_%d", node_id);
	out[0] = '\0';
	return conninfo_add(out, outlen, "host", v->leader_host) &&
		conninfo_add(out, outlen, "port", portstr) &&
		conninfo_add(out, outlen, "user", ROLE_REPLICATION) &&
		conninfo_add(out, outlen, "passfile", p->passfile) &&
		conninfo_add(out, outlen, "application_name", appname);
}

/*
 * The new member's slot on the leader (raft_ext.member_slots, kept there
 * only with max_slot_wal_keep_size bounded): its name into 'slot' ("" when
 * the leader keeps none, or an old one could not be dropped), *exists
 * whether it is there already (never, on success: pg_basebackup -C makes
 * it).  The clone streams through it from its first byte, and the standby
 * after it; the leader keeps a slot of a node that is not a member yet for
 * a grace period (src/member_slots.c), long enough for add_node.
 */
static void
member_slot_plan(const ClusterView *v, int node_id, char *slot, size_t len, bool *exists)
{
	char		sql[256];
	PGresult   *res;

	slot[0] = '\0';
	*exists = false;
	if (!query_true(v->leader, "SELECT coalesce(current_setting('raft_ext.member_slots', true), 'off') = 'on' "
					"AND current_setting('max_slot_wal_keep_size') <> '-1'"))
		return;
	snprintf(slot, len, "raft_node_%d", node_id);
	snprintf(sql, sizeof(sql), "SELECT EXISTS (SELECT FROM pg_replication_slots "
			 "WHERE slot_name = '%s' AND slot_type = 'physical')", slot);
	*exists = query_true(v->leader, sql);
	if (!*exists)
		return;
	/* an interrupted run's: its WAL sender may take a moment to go */
	snprintf(sql, sizeof(sql), "SELECT active FROM pg_replication_slots WHERE slot_name = '%s'", slot);
	for (int i = 0; i < 100 && query_true(v->leader, sql); i++)
		usleep(100 * 1000);
	/*
	 * The node is not a member (join checked): the slot is an interrupted
	 * run's, or a removed incarnation's (raftctl reinit of a deleted
	 * directory), which the leader drops a minute after the removal, maybe
	 * in the middle of the clone.  A new one, then.
	 */
	snprintf(sql, sizeof(sql), "SELECT pg_drop_replication_slot('%s')", slot);
	res = PQexec(v->leader, sql);
	if (PQresultStatus(res) == PGRES_TUPLES_OK)
		*exists = false;
	else
	{
		fprintf(stderr, "%s: cannot drop the earlier slot %s on the leader (%s): cloning without a slot\n",
				progname, slot, trimmed(PQerrorMessage(v->leader)));
		slot[0] = '\0';
	}
	PQclear(res);
}

/* pg_basebackup of the leader into the clone directory (through 'slot'). */
static bool
clone_leader(const char *bindir, const NodePaths *p, const char *conninfo,
			 const char *slot, bool slot_exists)
{
	char		prog[MAXPGPATH];
	char	   *argv[] = {prog, "-D", (char *) p->clonedir, "-d", (char *) conninfo,
		"-X", "stream", "--checkpoint=fast", NULL, NULL, NULL, NULL, NULL};
	int			n = 8;

	snprintf(prog, sizeof(prog), "%s/pg_basebackup", bindir);
	if (slot[0])
	{
		argv[n++] = "-S";
		argv[n++] = (char *) slot;
		if (!slot_exists)
			argv[n++] = "-C";
	}
	if (isatty(STDERR_FILENO))
		argv[n++] = "-P";
	printf("%s: cloning the leader: pg_basebackup -D %s -X stream --checkpoint=fast%s%s%s\n",
		   progname, p->clonedir, slot[0] ? " -S " : "", slot, slot[0] && !slot_exists ? " -C" : "");
	if (run_program(argv, NULL, 0) != 0)
	{
		fprintf(stderr, "%s: pg_basebackup failed (its messages are above); run the same "
				"command again once the cause is fixed\n", progname);
		return false;
	}
	return true;
}

/* Whether a line of a configuration file sets 'key'. */
static bool
line_sets(const char *line, const char *key)
{
	size_t		len = strlen(key);

	while (*line == ' ' || *line == '\t')
		line++;
	return strncmp(line, key, len) == 0 && (line[len] == ' ' || line[len] == '=' || line[len] == '\t');
}

/*
 * The clone's postgresql.auto.conf: without what belongs to the source
 * node (its node id, port, listen addresses, the primary it followed), and
 * with primary_conninfo naming the leader, where raft_ext's auto_follow
 * keeps it too.
 */
static bool
write_clone_auto_conf(const char *dir, const char *primary_conninfo, const char *slot)
{
	static const char *const source_only[] = {"primary_conninfo", "primary_slot_name",
	"raft_ext.node_id", "port", "listen_addresses", NULL};
	char		path[MAXPGPATH];
	char	   *old;
	StrBuf		b = {0};
	bool		ok;

	snprintf(path, sizeof(path), "%s/postgresql.auto.conf", dir);
	old = read_text_file(path);
	for (char *line = old; line && *line;)
	{
		char	   *next = strchr(line, '\n');
		bool		drop = false;

		if (next)
			*next = '\0';
		for (int k = 0; source_only[k] && !drop; k++)
			drop = line_sets(line, source_only[k]);
		if (!drop)
			buf_append(&b, "%s\n", line);
		line = next ? next + 1 : NULL;
	}
	if (old == NULL)
		buf_append(&b, "# Do not edit this file manually!\n"
				   "# It will be overwritten by the ALTER SYSTEM command.\n");
	buf_append(&b, "primary_conninfo = ");
	buf_append_conf_string(&b, primary_conninfo);
	buf_append(&b, "\n");
	if (slot && slot[0])
	{
		buf_append(&b, "primary_slot_name = ");
		buf_append_conf_string(&b, slot);
		buf_append(&b, "\n");
	}
	ok = write_file_atomically(path, b.data, 0600);
	free(old);
	free(b.data);
	return ok;
}

/*
 * raft_ext.peers for the new node: the cluster's membership, each with this
 * node's password file, and itself.  'self' receives its own conninfo.
 */
static bool
build_peers(const ClusterView *v, const NodePaths *p, int node_id, const char *host, int port,
			StrBuf *peers, char *self, size_t selflen)
{
	char		ci[1024];
	const char *template = NULL;

	for (int i = 0; i < v->n; i++)
	{
		if (!conninfo_for_node(v->conninfos[i], NULL, 0, p->passfile, ci, sizeof(ci)))
			return false;
		buf_append(peers, "%s%d:%s", i ? ";" : "", v->ids[i], ci);
		if (v->ids[i] == v->leader_id)
			template = v->conninfos[i];
	}
	/* this node as the leader is reached: dbname, user, TLS options alike */
	if (template == NULL ||
		!conninfo_for_node(template, host, port, p->passfile, self, selflen))
		return false;
	buf_append(peers, ";%d:%s", node_id, self);
	return true;
}

/* Configure the clone as this node's data directory (a standby). */
static bool
configure_clone(const ClusterView *v, const NodePaths *p, const JoinOptions *o, const char *dir,
				const char *host, int port, const char *primary_conninfo, const char *peers,
				const char *slot)
{
	NodeSettings s = {0};
	char		path[MAXPGPATH];
	char		config_file[MAXPGPATH];
	char		hba_file[MAXPGPATH];

	/* with --config-dir, the leader's configuration files would only mislead */
	if (p->config_dir[0] && !o->adopt)
	{
		static const char *const copied[] = {"postgresql.conf", "pg_hba.conf", "pg_ident.conf"};

		for (int i = 0; i < 3; i++)
		{
			snprintf(path, sizeof(path), "%s/%s", dir, copied[i]);
			if (unlink(path) != 0 && errno != ENOENT)
			{
				fprintf(stderr, "%s: cannot remove \"%s\": %s\n", progname, path, strerror(errno));
				return false;
			}
		}
	}
	/* the leader's Raft state is the leader's: the new member starts with none */
	if (v->state_dir[0] != '/')
	{
		snprintf(path, sizeof(path), "%s/%s", dir, v->state_dir);
		if (access(path, F_OK) == 0)
			printf("%s: removing the leader's Raft state (%s) from the %s\n", progname,
				   v->state_dir, o->adopt ? "standby" : "clone");
		if (!remove_tree(path))
			return false;
	}
	s.for_command = "join";
	s.node_id = o->node_id;
	s.host = host;
	s.port = port;
	s.peers = peers;
	s.cluster_name = v->cluster_name;
	s.preload = v->preload;
	s.socket_dir = o->socket_dir;
	snprintf(path, sizeof(path), "%s/standby.signal", dir);
	printf("%s: writing %s (node %d at %s) and the standby's settings\n", progname, p->conf,
		   o->node_id, o->address);
	server_config_file(p, dir, config_file, sizeof(config_file));
	server_hba_file(p, dir, hba_file, sizeof(hba_file));
	return write_raft_conf(p, &s) && ensure_include_line(config_file, p->conf) &&
		ensure_hba_lines(hba_file, o->address) &&
		write_clone_auto_conf(dir, primary_conninfo, slot) &&
		write_file_atomically(path, "", 0600);
}

/*
 * --adopt: whether DATADIR is a stopped standby of the leader's database
 * system (same system identifier) without raft_ext settings: a standby of
 * a primary that raftctl init adopted, which joins without a new clone.
 * Says why not.
 */
static bool
adoptable_standby(const char *bindir, const ClusterView *v, const NodePaths *p)
{
	char		prog[MAXPGPATH];
	char		out[16384];
	char	   *argv[] = {prog, "-D", (char *) p->datadir, NULL};
	char	   *theirs;
	const char *mine;
	bool		same;

	if (!file_exists_in(p->datadir, "PG_VERSION") || !file_exists_in(p->datadir, "standby.signal"))
	{
		fprintf(stderr, "%s: --adopt takes the data directory of a standby (PG_VERSION and "
				"standby.signal): \"%s\" is not one\n", progname, p->datadir);
		return false;
	}
	if (running_postmaster(p->datadir, NULL, NULL, 0) != 0)
	{
		fprintf(stderr, "%s: a server runs in \"%s\": stop it first (pg_ctl -D %s stop); "
				"raftctl join --adopt then restarts it as a member\n", progname, p->datadir, p->datadir);
		return false;
	}
	if (!datadir_free_of_raft_ext(p, "join --adopt"))
		return false;
	snprintf(prog, sizeof(prog), "%s/pg_controldata", bindir);
	if (run_program(argv, out, sizeof(out)) != 0 ||
		(mine = strstr(out, "Database system identifier:")) == NULL)
	{
		fprintf(stderr, "%s: pg_controldata cannot read \"%s\"\n", progname, p->datadir);
		return false;
	}
	mine += strlen("Database system identifier:");
	while (*mine == ' ' || *mine == '\t')
		mine++;
	theirs = query_value(v->leader, "SELECT system_identifier::text FROM pg_control_system()");
	same = theirs && strncmp(mine, theirs, strlen(theirs)) == 0 &&
		(mine[strlen(theirs)] == '\n' || mine[strlen(theirs)] == '\0');
	if (!same)
		fprintf(stderr, "%s: \"%s\" belongs to another database system than the leader's "
				"(system identifier %.20s, the leader's %s): only a standby of the leader is "
				"adopted; join into an empty directory instead\n", progname, p->datadir,
				mine, theirs ? theirs : "unknown");
	free(theirs);
	return same;
}

/*
 * What a new member needs whether it is cloned or adopted: its
 * configuration directory and password file, the leader's replication
 * conninfo (repl) and its raft_ext.peers (peers, to be freed).  False with a
 * message.
 */
static bool
member_settings(const ClusterView *v, const NodePaths *p, const JoinOptions *o,
				const char *host, int port, const char *password,
				char *repl, size_t repllen, StrBuf *peers, char *self, size_t selflen)
{
	if (!make_conf_dir(p) || !write_passfile(p->passfile, password))
		return false;
	if (!replication_conninfo(v, p, o->node_id, repl, repllen) ||
		!build_peers(v, p, o->node_id, host, port, peers, self, selflen))
	{
		fprintf(stderr, "%s: the conninfos are too long\n", progname);
		return false;
	}
	return true;
}

/* --adopt: configure the standby in place as this member.  False with a message. */
static bool
adopt_data_directory(const ClusterView *v, const NodePaths *p, const JoinOptions *o,
					 const char *host, int port, const char *password, char *self, size_t selflen)
{
	char		repl[2048];
	StrBuf		peers = {0};
	bool		ok;

	if (!member_settings(v, p, o, host, port, password, repl, sizeof(repl), &peers, self, selflen))
	{
		free(peers.data);
		return false;
	}
	printf("%s: adopting the standby in %s: no new clone\n", progname, p->datadir);
	ok = configure_clone(v, p, o, p->datadir, host, port, repl, peers.data, NULL);
	free(peers.data);
	return ok;
}

/* Remove what an earlier, interrupted run left: retry while its child ends. */
static bool
remove_stale_clone(const NodePaths *p)
{
	kill_programs_on("pg_basebackup", p->clonedir);
	if (dir_is_empty(p->clonedir) == -1)
		return true;
	printf("%s: removing the unfinished clone of an earlier run (%s)\n", progname, p->clonedir);
	for (int i = 0; i < 50; i++)
	{
		if (remove_tree(p->clonedir) && dir_is_empty(p->clonedir) == -1)
			return true;
		usleep(200 * 1000);
	}
	return false;
}

/* Clone, configure, rename into place.  False with a message. */
static bool
make_data_directory(const char *bindir, const ClusterView *v, const NodePaths *p,
					const JoinOptions *o, const char *host, int port,
					const char *password, char *self, size_t selflen)
{
	char		repl[2048];
	char		slot[NAMEDATALEN_RAFTCTL];
	bool		slot_exists;
	StrBuf		peers = {0};
	bool		ok;

	if (access(p->parent, W_OK) != 0)
	{
		fprintf(stderr, "%s: %s may not write into \"%s\" (the clone is made beside the data "
				"directory): make it writable for %s\n", progname, server_user, p->parent, server_user);
		return false;
	}
	if (!remove_stale_clone(p) ||
		!member_settings(v, p, o, host, port, password, repl, sizeof(repl), &peers, self, selflen))
	{
		free(peers.data);
		return false;
	}
	member_slot_plan(v, o->node_id, slot, sizeof(slot), &slot_exists);
	ok = clone_leader(bindir, p, repl, slot, slot_exists) &&
		configure_clone(v, p, o, p->clonedir, host, port, repl, peers.data, slot);
	free(peers.data);
	if (!ok)
		return false;
	/* an empty DATADIR (a mount point's) goes first: rename needs the name */
	if (dir_is_empty(p->datadir) == 1 && rmdir(p->datadir) != 0)
	{
		fprintf(stderr, "%s: cannot replace the empty \"%s\": %s\n", progname, p->datadir, strerror(errno));
		return false;
	}
	if (rename(p->clonedir, p->datadir) != 0)
	{
		fprintf(stderr, "%s: cannot rename \"%s\" to \"%s\": %s\n", progname, p->clonedir,
				p->datadir, strerror(errno));
		return false;
	}
	printf("%s: the clone is complete: %s\n", progname, p->datadir);
	return true;
}

/* raft_ext.add_node on the leader. */
static bool
add_member(PGconn *leader, int node_id, const char *conninfo)
{
	char	   *lit = PQescapeLiteral(leader, conninfo, strlen(conninfo));
	char		sql[4096];
	PGresult   *res;
	bool		ok;

	if (lit == NULL)
		return false;
	snprintf(sql, sizeof(sql), "SELECT raft_ext.add_node(%d, %s)", node_id, lit);
	PQfreemem(lit);
	printf("%s: adding node %d through the leader: raft_ext.add_node(%d, ...)\n",
		   progname, node_id, node_id);
	res = PQexec(leader, sql);
	ok = PQresultStatus(res) == PGRES_TUPLES_OK;
	if (!ok)
		fprintf(stderr, "%s: raft_ext.add_node failed: %s\n", progname, trimmed(PQerrorMessage(leader)));
	PQclear(res);
	return ok;
}

/* wait_until condition: a voter on the leader, streaming here. */
static bool
streaming_voter(void *arg)
{
	JoinWait   *w = arg;
	char		sql[160];
	char		error[256];
	PGconn	   *local;
	bool		streams;

	snprintf(sql, sizeof(sql), "SELECT voter AND NOT staged FROM raft_ext.raft_peers "
			 "WHERE peer_id = %d", w->node_id);
	if (!query_true(w->leader, sql))
		return false;
	local = connect_local(w->paths->datadir, w->host, error, sizeof(error));
	streams = local && query_true(local, "SELECT EXISTS (SELECT FROM pg_stat_wal_receiver "
								  "WHERE status = 'streaming')");
	if (local)
		PQfinish(local);
	return streams;
}

/* The password: --password-file, else the node's own from an earlier run. */
static bool
join_password(const JoinOptions *o, const NodePaths *p, char *pw, size_t len)
{
	bool		found;

	if (!given_password(o->password_file, p, pw, len, &found))
		return false;
	if (!found)
		fprintf(stderr, "%s: join needs --password-file: the password of the cluster's roles "
				"(a copy of the first node's pgpass file will do)\n", progname);
	return found;
}

int
cmd_join(const char *conninfo, int argc, char **argv)
{
	JoinOptions o = {0};
	NodePaths	p;
	ClusterView v = {0};
	JoinWait	w;
	char		bindir[MAXPGPATH];
	char		host[256];
	char		password[256];
	char		self[1024] = "";
	int			port;
	int			member;
	int			rc;
	bool		resume;

	if (!parse_join_options(argc, argv, &o))
	{
		join_usage(stderr);
		return EXIT_USAGE;
	}
	if (!parse_address(o.address, host, sizeof(host), &port) || !node_paths(o.datadir, &p) ||
		(o.config_dir && !set_config_dir(&p, o.config_dir)))
		return EXIT_USAGE;
	if (!become_server_user(o.user) || !find_bindir(o.bindir, bindir, sizeof(bindir)) ||
		!check_config_dir(bindir, &p))
		return EXIT_FAILED;

	/* an earlier run that got as far as the rename made this node's directory */
	resume = file_exists_in(p.datadir, "PG_VERSION") && raft_conf_node_id(p.conf) == o.node_id;
	if (!resume && !o.adopt && dir_is_empty(p.datadir) == 0)
	{
		fprintf(stderr, "%s: \"%s\" is not empty: a new member needs an empty or new directory%s\n",
				progname, p.datadir, p.config_dir[0] ?
				" (remove the data directory that pg_createcluster made; its configuration in "
				"--config-dir stays)" : "");
		return EXIT_FAILED;
	}
	if ((rc = reach_leader(o.from, &v)) != 0)
		return rc;
	printf("%s: node %d leads (at %s:%d), %d members\n", progname, v.leader_id,
		   v.leader_host, v.leader_port, v.n);
	member = membership_of(&v, o.node_id, host, port);
	if (member < 0)
		return EXIT_FAILED;
	if (member == 1 && !resume)
	{
		fprintf(stderr, "%s: node %d at %s is a member already, but \"%s\" is not its data "
				"directory: remove the member first (raftctl remove)\n", progname, o.node_id,
				o.address, p.datadir);
		return EXIT_FAILED;
	}
	if (member == 0 && !v.may_add)
	{
		fprintf(stderr, "%s: the role of --from may not run raft_ext.add_node on the leader: "
				"connect as a superuser or GRANT EXECUTE ON FUNCTION raft_ext.add_node(int, text)\n",
				progname);
		return EXIT_PRIVILEGE;
	}
	if (!join_password(&o, &p, password, sizeof(password)) || !leader_accepts_password(&v, password))
		return EXIT_FAILED;
	if (o.adopt && !resume && !adoptable_standby(bindir, &v, &p))
		return EXIT_FAILED;

	/* nothing has changed so far; from here on, every step can be re-run */
	if (resume)
		printf("%s: \"%s\" is node %d's, made by an earlier raftctl join: continuing\n",
			   progname, p.datadir, o.node_id);
	else if (o.adopt ?
			 !adopt_data_directory(&v, &p, &o, host, port, password, self, sizeof(self)) :
			 !make_data_directory(bindir, &v, &p, &o, host, port, password, self, sizeof(self)))
	{
		explicit_bzero(password, sizeof(password));
		return EXIT_FAILED;
	}
	explicit_bzero(password, sizeof(password));
	if (running_postmaster(p.datadir, NULL, NULL, 0) == 0 && !start_server(bindir, &p))
		return EXIT_FAILED;
	if (member == 1)
		printf("%s: node %d at %s is a member already\n", progname, o.node_id, o.address);
	else
	{
		StrBuf		unused = {0};

		if (self[0] == '\0' &&
			!build_peers(&v, &p, o.node_id, host, port, &unused, self, sizeof(self)))
			return EXIT_FAILED;
		free(unused.data);
		if (!add_member(v.leader, o.node_id, self))
			return EXIT_FAILED;
	}
	w.leader = v.leader;
	w.paths = &p;
	w.host = host;
	w.node_id = o.node_id;
	if (!wait_until(streaming_voter, &w, JOIN_TIMEOUT,
					"the leader counts the node as a voter and it streams"))
		return EXIT_FAILED;
	printf("%s: node %d is a voting member and streams from node %d\n", progname, o.node_id,
		   v.leader_id);
	PQfinish(v.leader);
	return 0;
}
