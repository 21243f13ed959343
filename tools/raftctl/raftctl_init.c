/*
 * raftctl_init.c
 *	  raftctl init: a new cluster's first node, from an empty directory (or
 *	  an existing, stopped data directory without raft_ext settings):
 *
 *	  raftctl init -D DATADIR --node-id 1 --address HOST:PORT
 *		  [--cluster-name NAME] [--data-checksums] [--user OSUSER]
 *		  [--bindir DIR] [--password-file FILE] [--socket-dir DIR]
 *		  [--config-dir DIR]
 *
 * initdb, the node's raft_ext.conf (included from postgresql.conf), the
 * password file, the pg_hba.conf lines, start, CREATE EXTENSION, the three
 * least-privilege roles, and a wait until the node leads its one-node
 * cluster.  Each step is skipped when an earlier run did it, so running the
 * same command again after a failure continues where it stopped.  With
 * --config-dir (Debian's layout) init adopts the stopped cluster that
 * pg_createcluster made: its postgresql.conf and pg_hba.conf there get
 * raftctl's lines, and the server starts with -c config_file=...
 *
 * Why the extension comes first and the roles after the node leads: a node
 * that has not led yet is fenced (it refuses writes), and a lone node whose
 * raft_ext.peers names only itself elects itself within an election
 * timeout; CREATE EXTENSION is retried until the fence lets it through, and
 * the roles and grants are created while the node holds the lease.
 */
#include <sys/stat.h>
#include <unistd.h>

#include "raftctl.h"

#define INIT_LEAD_TIMEOUT	60	/* seconds to lead the one-node cluster */

typedef struct InitOptions
{
	const char *datadir;
	int			node_id;
	const char *address;
	const char *cluster_name;
	bool		checksums;
	const char *user;
	const char *bindir;
	const char *password_file;
	const char *socket_dir;
	const char *config_dir;
} InitOptions;

/* What init found in the data directory. */
typedef enum DataDirState
{
	DATADIR_NEW,				/* missing or empty: initdb */
	DATADIR_ADOPT,				/* a stopped cluster without raft_ext settings */
	DATADIR_OURS				/* raftctl init began here for this node */
} DataDirState;

static void
init_usage(FILE *f)
{
	fprintf(f, "Usage: %s init -D DATADIR --node-id ID --address HOST:PORT [--cluster-name NAME]\n"
			"           [--data-checksums] [--user OSUSER] [--bindir DIR] [--password-file FILE]\n"
			"           [--socket-dir DIR] [--config-dir DIR]\n",
			progname);
}

/* The value after option argv[*i], or NULL (then usage). */
static const char *
option_value(int argc, char **argv, int *i)
{
	if (*i + 1 >= argc)
	{
		fprintf(stderr, "%s: %s needs a value\n", progname, argv[*i]);
		return NULL;
	}
	return argv[++*i];
}

/* Parse init's arguments; false (usage) if they are wrong. */
static bool
parse_init_options(int argc, char **argv, InitOptions *o)
{
	for (int i = 0; i < argc; i++)
	{
		const char *a = argv[i];
		const char **target = NULL;

		if (strcmp(a, "--data-checksums") == 0 || strcmp(a, "-k") == 0)
		{
			o->checksums = true;
			continue;
		}
		if (strcmp(a, "-D") == 0 || strcmp(a, "--pgdata") == 0)
			target = &o->datadir;
		else if (strcmp(a, "--address") == 0)
			target = &o->address;
		else if (strcmp(a, "--cluster-name") == 0)
			target = &o->cluster_name;
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
		{
			const char *v = option_value(argc, argv, &i);
			char	   *end;
			long		id = v ? strtol(v, &end, 10) : 0;

			if (v == NULL || *end != '\0' || id < 1 || id > 2147483647L)
			{
				fprintf(stderr, "%s: --node-id must be an integer from 1 to 2147483647\n", progname);
				return false;
			}
			o->node_id = (int) id;
			continue;
		}
		else
		{
			fprintf(stderr, "%s: init: unexpected argument \"%s\"\n", progname, a);
			return false;
		}
		if ((*target = option_value(argc, argv, &i)) == NULL)
			return false;
	}
	if (o->datadir == NULL || o->node_id == 0 || o->address == NULL)
	{
		fprintf(stderr, "%s: init needs -D, --node-id and --address\n", progname);
		return false;
	}
	if (o->cluster_name && (strlen(o->cluster_name) >= 64 || strpbrk(o->cluster_name, "\n\r\t")))
	{
		fprintf(stderr, "%s: --cluster-name must be shorter than 64 characters, without control characters\n", progname);
		return false;
	}
	if (o->socket_dir && !valid_socket_dir(o->socket_dir))
		return false;
	return true;
}

/*
 * What the data directory holds, or refuse (false, with the reason): a
 * directory of something else, a standby, a cluster already configured for
 * raft_ext by hand or by raftctl for another node, or an unexpected
 * running server.
 */
static bool
inspect_datadir(const NodePaths *p, int node_id, DataDirState *state)
{
	int			empty = dir_is_empty(p->datadir);
	int			conf_id = raft_conf_node_id(p->conf);

	if (empty != 0 && p->config_dir[0])
	{
		fprintf(stderr, "%s: with --config-dir, raftctl init adopts the cluster that "
				"pg_createcluster made: \"%s\" holds no data directory\n", progname, p->datadir);
		return false;
	}
	if (empty != 0)
	{
		*state = DATADIR_NEW;
		return true;
	}
	if (!file_exists_in(p->datadir, "PG_VERSION"))
	{
		fprintf(stderr, "%s: \"%s\" is not empty and holds no PostgreSQL data directory; "
				"give an empty or new directory\n", progname, p->datadir);
		return false;
	}
	if (file_exists_in(p->datadir, "standby.signal"))
	{
		fprintf(stderr, "%s: \"%s\" is a standby's data directory: a new member joins with "
				"\"raftctl join\"\n", progname, p->datadir);
		return false;
	}
	if (conf_id != 0 && conf_id != node_id)
	{
		fprintf(stderr, "%s: \"%s\" belongs to node %d of another raftctl init (%s); "
				"refusing to make it node %d\n", progname, p->datadir, conf_id, p->conf, node_id);
		return false;
	}
	if (conf_id == node_id)
	{
		*state = DATADIR_OURS;
		return true;
	}
	if (!datadir_free_of_raft_ext(p, "init"))
		return false;
	if (running_postmaster(p->datadir, NULL, NULL, 0) != 0)
	{
		fprintf(stderr, "%s: a server runs in \"%s\": stop it first (pg_ctl -D %s stop); "
				"raftctl init then adopts the data directory\n", progname, p->datadir, p->datadir);
		return false;
	}
	*state = DATADIR_ADOPT;
	return true;
}

/* initdb with peer (local) and scram-sha-256 (TCP) authentication. */
static bool
run_initdb(const char *bindir, const NodePaths *p, bool checksums)
{
	char		initdb[MAXPGPATH];
	char	   *argv[] = {initdb, "-D", (char *) p->datadir, "--auth-local=peer",
		"--auth-host=scram-sha-256", checksums ? "--data-checksums" : NULL, NULL};

	snprintf(initdb, sizeof(initdb), "%s/initdb", bindir);
	printf("%s: initdb -D %s%s\n", progname, p->datadir, checksums ? " --data-checksums" : "");
	if (run_program(argv, NULL, 0) != 0)
	{
		fprintf(stderr, "%s: initdb failed (its messages are above)\n", progname);
		return false;
	}
	return true;
}

/*
 * shared_preload_libraries as the data directory sets it, with raft_ext
 * added: an adopted cluster keeps the libraries it loads.
 */
static bool
preload_with_raft_ext(const char *bindir, const NodePaths *p, char *out, size_t outlen)
{
	char		current[1024] = "";

	if (!server_setting(bindir, p, "shared_preload_libraries", current, sizeof(current)))
		return false;
	if (current[0] == '\0' || strstr(current, "raft_ext"))
		snprintf(out, outlen, "%s", current[0] ? current : "raft_ext");
	else
		snprintf(out, outlen, "%s,raft_ext", current);
	return true;
}

/*
 * The password of the three roles: --password-file, else the node's
 * password file of an earlier run, else a new random one.
 */
static bool
cluster_password(const InitOptions *o, const NodePaths *p, char *pw, size_t len)
{
	bool		found;

	if (!given_password(o->password_file, p, pw, len, &found))
		return false;
	return found || generate_password(pw, len);
}

/* Write raft_ext.conf, the include line, the passfile and the hba lines. */
static bool
write_node_files(const InitOptions *o, const NodePaths *p, const char *bindir,
				 const char *host, int port, const char *password)
{
	char		member[1024] = "";
	char		peers[1100];
	char		portstr[16];
	char		preload[1100];
	char		config_file[MAXPGPATH];
	char		hba_file[MAXPGPATH];
	NodeSettings s = {0};

	snprintf(portstr, sizeof(portstr), "%d", port);
	if (!conninfo_add(member, sizeof(member), "host", host) ||
		!conninfo_add(member, sizeof(member), "port", portstr) ||
		!conninfo_add(member, sizeof(member), "dbname", "postgres") ||
		!conninfo_add(member, sizeof(member), "user", ROLE_TRANSPORT) ||
		!conninfo_add(member, sizeof(member), "passfile", p->passfile) ||
		!conninfo_add(member, sizeof(member), "connect_timeout", "2"))
	{
		fprintf(stderr, "%s: the node's conninfo is too long\n", progname);
		return false;
	}
	snprintf(peers, sizeof(peers), "%d:%s", o->node_id, member);
	if (!preload_with_raft_ext(bindir, p, preload, sizeof(preload)))
		return false;
	s.for_command = "init";
	s.node_id = o->node_id;
	s.host = host;
	s.port = port;
	s.peers = peers;
	s.cluster_name = o->cluster_name;
	s.preload = preload;
	s.socket_dir = o->socket_dir;
	printf("%s: writing %s (node %d at %s, password file %s)\n", progname, p->conf,
		   o->node_id, o->address, p->passfile);
	server_config_file(p, p->datadir, config_file, sizeof(config_file));
	server_hba_file(p, p->datadir, hba_file, sizeof(hba_file));
	return make_conf_dir(p) && write_passfile(p->passfile, password) &&
		write_raft_conf(p, &s) && ensure_include_line(config_file, p->conf) &&
		ensure_hba_lines(hba_file, o->address);
}

/* Whether the last error was the fence (SQLSTATE 25006). */
static bool
fenced(const PGresult *res)
{
	const char *state = PQresultErrorField(res, PG_DIAG_SQLSTATE);

	return state && strcmp(state, "25006") == 0;
}

/* wait_until condition: CREATE EXTENSION passed the fence. */
static bool
extension_created(void *arg)
{
	PGconn	   *conn = arg;
	PGresult   *res = PQexec(conn, "CREATE EXTENSION IF NOT EXISTS raft_ext");
	bool		ok = PQresultStatus(res) == PGRES_COMMAND_OK;

	if (!ok && !fenced(res))
		fprintf(stderr, "%s: CREATE EXTENSION raft_ext: %s\n", progname, trimmed(PQerrorMessage(conn)));
	PQclear(res);
	return ok;
}

/* wait_until condition: this node leads, holds the lease, out of recovery. */
static bool
node_leads(void *arg)
{
	return query_true(arg, "SELECT role = 'leader' AND has_lease AND NOT in_recovery "
					  "FROM raft_ext.raft_status");
}

/*
 * The three roles with the README's least privileges, their password as a
 * SCRAM verifier computed here: the password itself never reaches the
 * server, so no statement log can show it.  Re-running sets the same.
 */
static bool
create_roles(PGconn *conn, const char *password)
{
	const char *roles[] = {ROLE_TRANSPORT, ROLE_REPLICATION, ROLE_REWIND};
	StrBuf		sql = {0};
	PGresult   *res;
	bool		ok = true;

	buf_append(&sql, "BEGIN;\n");
	for (int r = 0; r < 3 && ok; r++)
	{
		char	   *verifier = PQencryptPasswordConn(conn, password, roles[r], "scram-sha-256");
		char	   *lit = verifier ? PQescapeLiteral(conn, verifier, strlen(verifier)) : NULL;
		char	   *name = PQescapeLiteral(conn, roles[r], strlen(roles[r]));
		char		exists[256];

		ok = lit != NULL && name != NULL;
		if (ok)
		{
			snprintf(exists, sizeof(exists), "SELECT EXISTS (SELECT FROM pg_roles WHERE rolname = %s)", name);
			buf_append(&sql, "%s ROLE %s %sLOGIN PASSWORD %s;\n",
					   query_true(conn, exists) ? "ALTER" : "CREATE", roles[r],
					   strcmp(roles[r], ROLE_REPLICATION) == 0 ? "REPLICATION " : "", lit);
		}
		PQfreemem(verifier);
		PQfreemem(lit);
		PQfreemem(name);
	}
	if (!ok)
	{
		fprintf(stderr, "%s: cannot compute the roles' password verifiers: %s\n", progname,
				trimmed(PQerrorMessage(conn)));
		free(sql.data);
		return false;
	}
	buf_append(&sql,
			   "GRANT USAGE ON SCHEMA raft_ext TO " ROLE_TRANSPORT ";\n"
			   "GRANT EXECUTE ON FUNCTION raft_ext.receive(bytea) TO " ROLE_TRANSPORT ";\n"
			   "GRANT pg_checkpoint TO " ROLE_REWIND ";\n"
			   "GRANT EXECUTE ON FUNCTION pg_ls_dir(text, boolean, boolean),\n"
			   "  pg_stat_file(text, boolean), pg_read_file(text), pg_read_binary_file(text),\n"
			   "  pg_read_binary_file(text, bigint, bigint, boolean) TO " ROLE_REWIND ";\n"
			   "COMMIT;\n");
	res = PQexec(conn, sql.data);
	ok = PQresultStatus(res) == PGRES_COMMAND_OK;
	if (!ok)
		fprintf(stderr, "%s: creating the roles failed: %s\n", progname, trimmed(PQerrorMessage(conn)));
	PQclear(res);
	if (!ok)
		PQclear(PQexec(conn, "ROLLBACK"));
	explicit_bzero(sql.data, sql.cap);
	free(sql.data);
	return ok;
}

/* Make the running node a raft_ext leader with its roles. */
static bool
set_up_running_node(const NodePaths *p, const char *host, const char *password, int node_id)
{
	char		error[1024];
	PGconn	   *conn = connect_local(p->datadir, host, error, sizeof(error));
	bool		ok;

	if (conn == NULL)
	{
		fprintf(stderr, "%s: cannot connect to the new server as %s: %s\n", progname, server_user, error);
		return false;
	}
	printf("%s: CREATE EXTENSION raft_ext\n", progname);
	ok = wait_until(extension_created, conn, INIT_LEAD_TIMEOUT,
					"CREATE EXTENSION raft_ext passes (the node is fenced until it leads)") &&
		wait_until(node_leads, conn, INIT_LEAD_TIMEOUT, "the node leads its one-node cluster");
	if (ok)
	{
		/* a session opened while fenced stays read-only: take a new one */
		PQfinish(conn);
		conn = connect_local(p->datadir, host, error, sizeof(error));
		if (conn == NULL)
		{
			fprintf(stderr, "%s: cannot connect to the server as %s: %s\n", progname, server_user, error);
			return false;
		}
		printf("%s: creating the roles %s, %s and %s\n", progname,
			   ROLE_TRANSPORT, ROLE_REPLICATION, ROLE_REWIND);
		ok = create_roles(conn, password);
	}
	if (ok)
	{
		char	   *name = query_value(conn,
									   "SELECT coalesce(nullif(current_setting('raft_ext.cluster_name'), ''), "
									   "'pg-' || (SELECT system_identifier FROM pg_control_system()))");

		printf("%s: node %d leads cluster %s\n", progname, node_id, name ? name : "?");
		free(name);
	}
	PQfinish(conn);
	return ok;
}

int
cmd_init(const char *conninfo, int argc, char **argv)
{
	InitOptions o = {0};
	NodePaths	p;
	DataDirState state;
	char		bindir[MAXPGPATH];
	char		host[256];
	char		password[256];
	int			port;
	bool		ok;

	if (!parse_init_options(argc, argv, &o))
	{
		init_usage(stderr);
		return EXIT_USAGE;
	}
	if (!parse_address(o.address, host, sizeof(host), &port))
		return EXIT_USAGE;
	if (!node_paths(o.datadir, &p) || (o.config_dir && !set_config_dir(&p, o.config_dir)))
		return EXIT_USAGE;
	/* as root: the directories first, for the server's user */
	if (!o.config_dir && dir_is_empty(p.datadir) == -1 && !make_dir_for_user(p.datadir, o.user))
		return EXIT_FAILED;
	if (!make_dir_for_user(p.confdir, o.user) || !become_server_user(o.user) ||
		!find_bindir(o.bindir, bindir, sizeof(bindir)))
		return EXIT_FAILED;
	if (!inspect_datadir(&p, o.node_id, &state) || !check_config_dir(bindir, &p))
		return EXIT_FAILED;
	if (state == DATADIR_OURS)
		printf("%s: \"%s\" is node %d's from an earlier raftctl init: continuing\n",
			   progname, p.datadir, o.node_id);
	else if (state == DATADIR_ADOPT)
		printf("%s: adopting the existing data directory \"%s\"\n", progname, p.datadir);
	if (state == DATADIR_NEW && !run_initdb(bindir, &p, o.checksums))
		return EXIT_FAILED;
	if (!cluster_password(&o, &p, password, sizeof(password)))
		return EXIT_FAILED;
	ok = write_node_files(&o, &p, bindir, host, port, password);
	if (ok && running_postmaster(p.datadir, NULL, NULL, 0) == 0)
		ok = start_server(bindir, &p);
	else if (ok)
		printf("%s: the server already runs (an earlier raftctl init started it)\n", progname);
	ok = ok && set_up_running_node(&p, host, password, o.node_id);
	explicit_bzero(password, sizeof(password));
	if (!ok)
	{
		fprintf(stderr, "%s: init did not finish; fix the cause and run the same command again: "
				"it continues where it stopped\n", progname);
		return EXIT_FAILED;
	}
	printf("%s: done.  The password of the roles is in %s (mode 0600): copy that file to each\n"
		   "  new member's machine and run there:\n"
		   "  raftctl join -D DATADIR --node-id ID --address HOST:PORT --password-file COPY \\\n"
		   "      --from 'host=%s port=%d dbname=postgres user=ADMIN'\n",
		   progname, p.passfile, host, port);
	return 0;
}
