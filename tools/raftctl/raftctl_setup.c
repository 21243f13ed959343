/*
 * raftctl_setup.c
 *	  raftctl: what init and join share: running as the server's OS user,
 *	  running programs and waiting for them, finding PostgreSQL's bindir,
 *	  the node's own files (raft_ext.conf, the password file, the include
 *	  line in postgresql.conf, the pg_hba.conf lines), conninfo quoting,
 *	  and waiting for a condition with a timeout.
 *
 * Where the node's own files live: beside the data directory, in
 * "<DATADIR>.raft_ext/", never inside it.  pg_rewind and pg_basebackup copy
 * every file of the leader's data directory (the rejoin helper keeps only
 * postgresql.conf, postgresql.auto.conf, pg_hba.conf and pg_ident.conf): a
 * raft_ext.conf inside it would come back after a rejoin with the leader's
 * node id and port.  postgresql.conf names the file with one absolute
 * include_if_exists line that raftctl marks, so that it can find and
 * replace the line in a clone.
 */
#include <dirent.h>
#include <fcntl.h>
#include <ftw.h>
#include <grp.h>
#include <pwd.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "raftctl.h"

/* The comment line that marks what raftctl wrote into a server's file. */
#define MARK_INCLUDE	"# raft_ext: the next line was added by raftctl; it names this node's raft_ext settings"
#define MARK_HBA		"# raft_ext: added by raftctl: the Raft transport, rejoin and replication roles"

/* The OS user the server runs as (set by become_server_user). */
char		server_user[64] = "";

/*
 * Run everything from here on as the server's OS user: as root, switch to
 * 'user' (default postgres) for good, so that every file raftctl writes and
 * every program it starts (initdb, pg_ctl and so the server) belongs to it;
 * as any other user, 'user' must be that user itself.  False with a message.
 */
bool
become_server_user(const char *user)
{
	struct passwd *pw;

	if (geteuid() != 0)
	{
		pw = getpwuid(geteuid());
		if (pw == NULL)
		{
			fprintf(stderr, "%s: cannot find the name of user id %d\n", progname, (int) geteuid());
			return false;
		}
		if (user && strcmp(user, pw->pw_name) != 0)
		{
			fprintf(stderr, "%s: --user %s needs root (raftctl runs as %s)\n",
					progname, user, pw->pw_name);
			return false;
		}
		strlcpy(server_user, pw->pw_name, sizeof(server_user));
		return true;
	}
	pw = getpwnam(user ? user : "postgres");
	if (pw == NULL || pw->pw_uid == 0)
	{
		fprintf(stderr, "%s: the server cannot run as \"%s\": %s (use --user OSUSER)\n",
				progname, user ? user : "postgres",
				pw ? "it is root" : "no such user");
		return false;
	}
	strlcpy(server_user, pw->pw_name, sizeof(server_user));
	if (setgid(pw->pw_gid) != 0 || initgroups(pw->pw_name, pw->pw_gid) != 0 ||
		setuid(pw->pw_uid) != 0)
	{
		fprintf(stderr, "%s: cannot switch to user %s: %s\n", progname, pw->pw_name, strerror(errno));
		return false;
	}
	setenv("HOME", pw->pw_dir, 1);
	setenv("USER", pw->pw_name, 1);
	setenv("LOGNAME", pw->pw_name, 1);
	return true;
}

/*
 * As root, before become_server_user: create directory 'path' (if missing)
 * owned by 'user', so that the server's user may write into a directory
 * whose parent it may not write.  Nothing to do for other users.
 */
bool
make_dir_for_user(const char *path, const char *user)
{
	struct passwd *pw;

	if (geteuid() != 0)
		return true;
	pw = getpwnam(user ? user : "postgres");
	if (pw == NULL)
		return true;			/* become_server_user says why */
	if (mkdir(path, 0700) != 0 && errno != EEXIST)
	{
		fprintf(stderr, "%s: cannot create directory \"%s\": %s\n", progname, path, strerror(errno));
		return false;
	}
	if (chown(path, pw->pw_uid, pw->pw_gid) != 0)
	{
		fprintf(stderr, "%s: cannot hand \"%s\" to %s: %s\n", progname, path, pw->pw_name, strerror(errno));
		return false;
	}
	return true;
}

/*
 * Run argv[0] (a full path) with argv and wait for it.  Its stdout goes to
 * /dev/null unless 'out' is given, which then receives it (at most outlen - 1
 * bytes, NUL-terminated); stderr is ours, so its errors reach the operator.
 * The child dies with raftctl (PR_SET_PDEATHSIG): a killed raftctl leaves no
 * pg_basebackup writing on.  Returns the exit code, -1 if it could not run
 * or died of a signal.
 */
int
run_program(char *const argv[], char *out, size_t outlen)
{
	int			pipefd[2] = {-1, -1};
	pid_t		pid;
	int			status;
	size_t		got = 0;

	fflush(stdout);
	fflush(stderr);
	if (out && pipe(pipefd) != 0)
		return -1;
	pid = fork();
	if (pid < 0)
	{
		fprintf(stderr, "%s: cannot fork: %s\n", progname, strerror(errno));
		return -1;
	}
	if (pid == 0)
	{
		int			fd = out ? pipefd[1] : open("/dev/null", O_WRONLY);

		prctl(PR_SET_PDEATHSIG, SIGKILL);
		if (getppid() == 1)
			_exit(127);			/* raftctl died before the prctl */
		if (fd >= 0)
			dup2(fd, STDOUT_FILENO);
		if (out)
			close(pipefd[0]);
		execv(argv[0], argv);
		fprintf(stderr, "%s: cannot run %s: %s\n", progname, argv[0], strerror(errno));
		_exit(127);
	}
	if (out)
	{
		ssize_t		r;

		close(pipefd[1]);
		while ((r = read(pipefd[0], out + got, outlen - 1 - got)) > 0 && got + r < outlen - 1)
			got += r;
		if (r > 0)
			got += r;
		out[got] = '\0';
		/* read the rest, so that the child never blocks on a full pipe */
		{
			char		sink[512];

			while (read(pipefd[0], sink, sizeof(sink)) > 0)
				;
		}
		close(pipefd[0]);
	}
	while (waitpid(pid, &status, 0) < 0)
	{
		if (errno != EINTR)
			return -1;
	}
	return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

/* Remove trailing newlines and spaces from s. */
static void
chomp(char *s)
{
	size_t		len = strlen(s);

	while (len > 0 && (s[len - 1] == '\n' || s[len - 1] == '\r' || s[len - 1] == ' '))
		s[--len] = '\0';
}

/*
 * PostgreSQL's bindir: 'given' (--bindir), else what pg_config in PATH
 * says.  Checked for pg_ctl.  False with a message.
 */
bool
find_bindir(const char *given, char *out, size_t outlen)
{
	char		path[MAXPGPATH];

	if (given)
		strlcpy(out, given, outlen);
	else
	{
		const char *pathenv = getenv("PATH");
		char	   *copy = strdup(pathenv ? pathenv : "/usr/bin:/bin");
		char	   *dir,
				   *save = NULL;
		bool		found = false;

		for (dir = strtok_r(copy, ":", &save); dir && !found; dir = strtok_r(NULL, ":", &save))
		{
			snprintf(path, sizeof(path), "%s/pg_config", dir);
			if (access(path, X_OK) == 0)
			{
				char	   *argv[] = {path, "--bindir", NULL};

				found = run_program(argv, out, outlen) == 0;
				chomp(out);
			}
		}
		free(copy);
		if (!found)
		{
			fprintf(stderr, "%s: pg_config is not in PATH: give PostgreSQL's bindir with --bindir\n", progname);
			return false;
		}
	}
	snprintf(path, sizeof(path), "%s/pg_ctl", out);
	if (access(path, X_OK) != 0)
	{
		fprintf(stderr, "%s: no pg_ctl in \"%s\": give PostgreSQL's bindir with --bindir\n", progname, out);
		return false;
	}
	return true;
}

/*
 * The paths of a node: the data directory made absolute (it need not exist
 * yet, its parent must), and the files raftctl keeps beside it.
 */
bool
node_paths(const char *datadir, NodePaths *p)
{
	char		parent[MAXPGPATH];
	char		real[MAXPGPATH];
	const char *base;
	char	   *slash;
	size_t		len;

	strlcpy(parent, datadir, sizeof(parent));
	len = strlen(parent);
	while (len > 1 && parent[len - 1] == '/')
		parent[--len] = '\0';
	slash = strrchr(parent, '/');
	if (slash == NULL)
	{
		base = datadir;
		strlcpy(parent, ".", sizeof(parent));
	}
	else
	{
		*slash = '\0';
		base = slash + 1;
		if (parent[0] == '\0')
			strlcpy(parent, "/", sizeof(parent));
	}
	if (base[0] == '\0' || strcmp(base, ".") == 0 || strcmp(base, "..") == 0)
	{
		fprintf(stderr, "%s: -D must name a directory, not \"%s\"\n", progname, datadir);
		return false;
	}
	{
		/* realpath() wants PATH_MAX bytes: let it allocate them */
		char	   *resolved = realpath(parent, NULL);

		if (resolved == NULL)
		{
			fprintf(stderr, "%s: the parent of \"%s\" does not exist: %s\n", progname, datadir, strerror(errno));
			return false;
		}
		strlcpy(real, resolved, sizeof(real));
		free(resolved);
	}
	/* raft_ext.peers separates members with ';', conninfos quote with ' */
	if (strpbrk(real, ";'\\\n\t") || strpbrk(base, ";'\\\n\t"))
	{
		fprintf(stderr, "%s: the data directory's path may not contain ; ' \\ or control characters\n", progname);
		return false;
	}
	if (snprintf(p->datadir, sizeof(p->datadir), "%s%s%s", real,
				 strcmp(real, "/") == 0 ? "" : "/", base) >= (int) sizeof(p->datadir) - 32)
	{
		fprintf(stderr, "%s: the data directory's path is too long\n", progname);
		return false;
	}
	strlcpy(p->parent, real, sizeof(p->parent));
	snprintf(p->confdir, sizeof(p->confdir), "%s.raft_ext", p->datadir);
	snprintf(p->conf, sizeof(p->conf), "%s/raft_ext.conf", p->confdir);
	snprintf(p->passfile, sizeof(p->passfile), "%s/pgpass", p->confdir);
	snprintf(p->logfile, sizeof(p->logfile), "%s/postgresql.log", p->confdir);
	snprintf(p->clonedir, sizeof(p->clonedir), "%s.raftctl-clone", p->datadir);
	return true;
}

/* -1: 'path' does not exist, 1: an empty directory, 0: anything else. */
int
dir_is_empty(const char *path)
{
	DIR		   *d = opendir(path);
	struct dirent *e;
	int			empty = 1;

	if (d == NULL)
		return errno == ENOENT ? -1 : 0;
	while ((e = readdir(d)) != NULL)
		if (strcmp(e->d_name, ".") != 0 && strcmp(e->d_name, "..") != 0)
		{
			empty = 0;
			break;
		}
	closedir(d);
	return empty;
}

/* Whether dir/name exists. */
bool
file_exists_in(const char *dir, const char *name)
{
	char		path[MAXPGPATH];
	struct stat st;

	snprintf(path, sizeof(path), "%s/%s", dir, name);
	return stat(path, &st) == 0;
}

static int
remove_entry(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
	if (remove(path) != 0 && errno != ENOENT)
	{
		fprintf(stderr, "%s: cannot remove \"%s\": %s\n", progname, path, strerror(errno));
		return -1;
	}
	return 0;
}

/* rm -rf path (nothing if it does not exist); false with a message. */
bool
remove_tree(const char *path)
{
	struct stat st;

	if (lstat(path, &st) != 0)
		return errno == ENOENT;
	return nftw(path, remove_entry, 16, FTW_DEPTH | FTW_PHYS) == 0;
}

/* Read a whole (small) file into malloc'd memory; NULL if it cannot. */
char *
read_text_file(const char *path)
{
	FILE	   *f = fopen(path, "r");
	char	   *buf;
	long		len;

	if (f == NULL)
		return NULL;
	if (fseek(f, 0, SEEK_END) != 0 || (len = ftell(f)) < 0 || len > 16 * 1024 * 1024 ||
		fseek(f, 0, SEEK_SET) != 0)
	{
		fclose(f);
		return NULL;
	}
	buf = malloc(len + 1);
	if (buf == NULL || fread(buf, 1, len, f) != (size_t) len)
	{
		free(buf);
		fclose(f);
		return NULL;
	}
	buf[len] = '\0';
	fclose(f);
	return buf;
}

/*
 * Write 'content' to 'path' whole or not at all: a temporary file beside
 * it, fsynced, renamed over it.  'mode' is the new file's mode.
 */
bool
write_file_atomically(const char *path, const char *content, mode_t mode)
{
	char		tmp[MAXPGPATH];
	size_t		len = strlen(content);
	int			fd;

	snprintf(tmp, sizeof(tmp), "%s.raftctl-tmp", path);
	fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC, mode);
	if (fd < 0 || write(fd, content, len) != (ssize_t) len || fchmod(fd, mode) != 0 ||
		fsync(fd) != 0 || close(fd) != 0 || rename(tmp, path) != 0)
	{
		fprintf(stderr, "%s: cannot write \"%s\": %s\n", progname, path, strerror(errno));
		if (fd >= 0)
			unlink(tmp);
		return false;
	}
	return true;
}

/* A growing string for building files; aborts when out of memory. */
void
buf_append(StrBuf *b, const char *fmt,...)
{
	va_list		ap;
	int			need;

	for (;;)
	{
		size_t		room = b->cap - b->len;

		va_start(ap, fmt);
		need = b->data ? vsnprintf(b->data + b->len, room, fmt, ap) : -1;
		va_end(ap);
		if (b->data && need >= 0 && (size_t) need < room)
		{
			b->len += need;
			return;
		}
		b->cap = b->cap ? b->cap * 2 + (need > 0 ? need : 0) : 1024;
		b->data = realloc(b->data, b->cap);
		if (b->data == NULL)
		{
			fprintf(stderr, "%s: out of memory\n", progname);
			exit(EXIT_FAILED);
		}
	}
}

/*
 * Append "key=value " to a conninfo, the value in single quotes with \ and '
 * escaped when it needs them (libpq's rules).  False if it does not fit.
 */
bool
conninfo_add(char *buf, size_t buflen, const char *key, const char *value)
{
	size_t		len = strlen(buf);
	bool		quote = value[0] == '\0' || strpbrk(value, " \t\\'") != NULL;
	char	   *p;

	if (len + strlen(key) + 2 * strlen(value) + 6 >= buflen)
		return false;
	p = buf + len;
	if (len > 0)
		*p++ = ' ';
	p += sprintf(p, "%s=", key);
	if (quote)
		*p++ = '\'';
	for (const char *v = value; *v; v++)
	{
		if (*v == '\\' || *v == '\'')
			*p++ = '\\';
		*p++ = *v;
	}
	if (quote)
		*p++ = '\'';
	*p = '\0';
	return true;
}

/*
 * Rebuild a member's conninfo for this node: every option it has, the
 * password left out (raft_peers masks it; ours is in the passfile), host,
 * hostaddr and port replaced when 'host' is given, passfile replaced.
 */
bool
conninfo_for_node(const char *conninfo, const char *host, int port,
				  const char *passfile, char *out, size_t outlen)
{
	char	   *err = NULL;
	PQconninfoOption *opts = PQconninfoParse(conninfo, &err);
	char		portstr[16];
	bool		ok = true;

	out[0] = '\0';
	if (opts == NULL)
	{
		fprintf(stderr, "%s: a member's conninfo cannot be parsed: %s\n", progname,
				trimmed(err ? err : "out of memory"));
		PQfreemem(err);
		return false;
	}
	if (host)
	{
		snprintf(portstr, sizeof(portstr), "%d", port);
		ok = conninfo_add(out, outlen, "host", host) && conninfo_add(out, outlen, "port", portstr);
	}
	for (PQconninfoOption *o = opts; ok && o->keyword; o++)
	{
		if (o->val == NULL || o->val[0] == '\0' || strcmp(o->keyword, "password") == 0 ||
			strcmp(o->keyword, "passfile") == 0 ||
			(host && (strcmp(o->keyword, "host") == 0 || strcmp(o->keyword, "hostaddr") == 0 ||
					  strcmp(o->keyword, "port") == 0)))
			continue;
		ok = conninfo_add(out, outlen, o->keyword, o->val);
	}
	if (ok)
		ok = conninfo_add(out, outlen, "passfile", passfile);
	PQconninfoFree(opts);
	if (!ok)
		fprintf(stderr, "%s: a member's conninfo is too long\n", progname);
	return ok;
}

/* Append 'value' to b as a postgresql.conf string literal. */
void
buf_append_conf_string(StrBuf *b, const char *value)
{
	buf_append(b, "'");
	for (const char *v = value; *v; v++)
		buf_append(b, *v == '\'' ? "''" : "%c", *v);
	buf_append(b, "'");
}

/*
 * Write the node's raft_ext.conf: everything raft_ext needs on this node,
 * in one file that raftctl owns and rewrites whole.
 */
bool
write_raft_conf(const NodePaths *p, const NodeSettings *s)
{
	StrBuf		b = {0};
	char		portstr[16];
	bool		ok;

	snprintf(portstr, sizeof(portstr), "%d", s->port);
	buf_append(&b,
			   "# raft_ext settings of node %d, written by raftctl %s.  raftctl rewrites\n"
			   "# this file whole; it lives outside the data directory, so that pg_rewind\n"
			   "# and pg_basebackup (which copy the leader's files) never replace it.\n",
			   s->node_id, s->for_command);
	buf_append(&b, "listen_addresses = ");
	buf_append_conf_string(&b, s->host);
	buf_append(&b, "\nport = %d\n", s->port);
	buf_append(&b, "shared_preload_libraries = ");
	buf_append_conf_string(&b, s->preload);
	buf_append(&b, "\nraft_ext.node_id = %d\n", s->node_id);
	buf_append(&b, "raft_ext.peers = ");
	buf_append_conf_string(&b, s->peers);
	buf_append(&b, "\n");
	if (s->cluster_name && s->cluster_name[0])
	{
		buf_append(&b, "raft_ext.cluster_name = ");
		buf_append_conf_string(&b, s->cluster_name);
		buf_append(&b, "\n");
	}
	buf_append(&b,
			   "raft_ext.replication_user = '" ROLE_REPLICATION "'\n"
			   "raft_ext.rewind_user = '" ROLE_REWIND "'\n"
			   "password_encryption = 'scram-sha-256'\n"
			   "hot_standby = on\n"
			   "# pg_rewind (the rejoin of a former primary) needs hint bits in the WAL\n"
			   "# and the WAL since the last checkpoint before the fork\n"
			   "wal_log_hints = on\n"
			   "wal_keep_size = '1GB'\n");
	ok = write_file_atomically(p->conf, b.data, 0600);
	free(b.data);
	return ok;
}

/*
 * Make postgresql.conf in 'dir' include 'conf': one marked line, appended
 * once; a marked line naming another file (a clone's, naming its source's
 * file) is replaced.  Idempotent.
 */
bool
ensure_include_line(const char *dir, const char *conf)
{
	char		path[MAXPGPATH];
	char	   *old;
	const char *mark;
	StrBuf		b = {0};
	bool		ok = true;

	snprintf(path, sizeof(path), "%s/postgresql.conf", dir);
	old = read_text_file(path);
	if (old == NULL)
	{
		fprintf(stderr, "%s: cannot read \"%s\": %s\n", progname, path, strerror(errno));
		return false;
	}
	mark = strstr(old, MARK_INCLUDE "\n");
	if (mark)
	{
		/* what is before the mark, the new line, what follows the old one */
		const char *line = mark + strlen(MARK_INCLUDE "\n");
		const char *end = strchr(line, '\n');

		buf_append(&b, "%.*s" MARK_INCLUDE "\ninclude_if_exists = ", (int) (mark - old), old);
		buf_append_conf_string(&b, conf);
		buf_append(&b, "\n%s", end ? end + 1 : "");
	}
	else
	{
		size_t		len = strlen(old);

		buf_append(&b, "%s%s" MARK_INCLUDE "\ninclude_if_exists = ", old,
				   len > 0 && old[len - 1] != '\n' ? "\n" : "");
		buf_append_conf_string(&b, conf);
		buf_append(&b, "\n");
	}
	/* rewrite only when something changes: a re-run touches nothing */
	if (strcmp(b.data, old) != 0)
		ok = write_file_atomically(path, b.data, 0600);
	free(old);
	free(b.data);
	return ok;
}

/*
 * Put raftctl's lines for the three roles at the top of pg_hba.conf in
 * 'dir' (once): scram-sha-256 from the server's own subnets (samenet), the
 * members' addresses, before any line that could reject them.
 */
bool
ensure_hba_lines(const char *dir, const char *address)
{
	char		path[MAXPGPATH];
	char	   *old;
	StrBuf		b = {0};
	bool		ok = true;

	snprintf(path, sizeof(path), "%s/pg_hba.conf", dir);
	old = read_text_file(path);
	if (old == NULL)
	{
		fprintf(stderr, "%s: cannot read \"%s\": %s\n", progname, path, strerror(errno));
		return false;
	}
	if (strstr(old, MARK_HBA) == NULL)
	{
		buf_append(&b, MARK_HBA " (the node at %s)\n"
				   "host all " ROLE_TRANSPORT "," ROLE_REWIND " samenet scram-sha-256\n"
				   "host replication " ROLE_REPLICATION " samenet scram-sha-256\n"
				   "\n%s", address, old);
		ok = write_file_atomically(path, b.data, 0600);
		free(b.data);
	}
	free(old);
	return ok;
}

/* Whether a file sets any raft_ext.* parameter (a line not commented out). */
bool
file_sets_raft_ext(const char *path)
{
	char	   *text = read_text_file(path);
	bool		found = false;

	for (char *line = text; line && *line && !found;)
	{
		char	   *next = strchr(line, '\n');

		while (*line == ' ' || *line == '\t')
			line++;
		found = strncmp(line, "raft_ext.", 9) == 0 ||
			(strncmp(line, "shared_preload_libraries", 24) == 0 &&
			 strstr(line, "raft_ext") != NULL && (next == NULL || strstr(line, "raft_ext") < next));
		line = next ? next + 1 : NULL;
	}
	free(text);
	return found;
}

/* The value of "key = value" in raftctl's raft_ext.conf (0 if none). */
int
raft_conf_node_id(const char *conf)
{
	char	   *text = read_text_file(conf);
	char	   *p = text ? strstr(text, "\nraft_ext.node_id = ") : NULL;
	int			id = p ? atoi(p + strlen("\nraft_ext.node_id = ")) : 0;

	free(text);
	return id;
}

/* A random password: 32 letters and digits from a strong source. */
bool
generate_password(char *out, size_t outlen)
{
	static const char alphabet[] =
		"ABCDEFGHJKLMNPQRSTUVWXYZabcdefghijkmnopqrstuvwxyz23456789";
	unsigned char raw[32];
	size_t		n = Min(sizeof(raw), outlen - 1);

	/* the kernel's generator (libpgport's would pull in OpenSSL) */
	if (getrandom(raw, n, 0) != (ssize_t) n)
	{
		fprintf(stderr, "%s: no source of strong random numbers for a password\n", progname);
		return false;
	}
	for (size_t i = 0; i < n; i++)
		out[i] = alphabet[raw[i] % (sizeof(alphabet) - 1)];
	out[n] = '\0';
	return true;
}

/*
 * Read the password from 'path': its first line, or, in a password file
 * raftctl wrote (a copy of another node's), the raft_transport line's.
 */
bool
read_password_file(const char *path, char *out, size_t outlen)
{
	char	   *text = read_text_file(path);
	const char *prefix = "*:*:*:" ROLE_TRANSPORT ":";
	char	   *start;
	char	   *p;
	size_t		n = 0;
	bool		too_long;

	if (text == NULL)
	{
		fprintf(stderr, "%s: cannot read the password file \"%s\": %s\n", progname, path, strerror(errno));
		return false;
	}
	start = strstr(text, prefix);
	start = start ? start + strlen(prefix) : text;
	/* undo the password file's escapes of : and \ (pgpass format) */
	for (p = start; *p && *p != '\n' && *p != '\r' && n + 1 < outlen; p++)
	{
		if (start != text && *p == '\\' && p[1] && p[1] != '\n')
			p++;
		out[n++] = *p;
	}
	out[n] = '\0';
	too_long = *p && *p != '\n' && *p != '\r';
	free(text);
	if (n == 0)
	{
		fprintf(stderr, "%s: the password file \"%s\" holds no password on its first line\n", progname, path);
		return false;
	}
	if (too_long)
	{
		fprintf(stderr, "%s: the password in \"%s\" is too long\n", progname, path);
		return false;
	}
	return true;
}

/*
 * The node's password file (libpq's format, mode 0600): the one password
 * for the three roles.  conninfos name it with passfile=.
 */
bool
write_passfile(const char *path, const char *password)
{
	StrBuf		b = {0};
	const char *roles[] = {ROLE_TRANSPORT, ROLE_REPLICATION, ROLE_REWIND};
	bool		ok;

	for (int r = 0; r < 3; r++)
	{
		buf_append(&b, "*:*:*:%s:", roles[r]);
		for (const char *c = password; *c; c++)
			buf_append(&b, (*c == ':' || *c == '\\') ? "\\%c" : "%c", *c);
		buf_append(&b, "\n");
	}
	ok = write_file_atomically(path, b.data, 0600);
	explicit_bzero(b.data, b.cap);
	free(b.data);
	return ok;
}

/* Create the directory of the node's own files (mode 0700). */
bool
make_conf_dir(const NodePaths *p)
{
	if (mkdir(p->confdir, 0700) != 0 && errno != EEXIST)
	{
		fprintf(stderr, "%s: cannot create \"%s\": %s\n", progname, p->confdir, strerror(errno));
		return false;
	}
	return true;
}

/*
 * "HOST:PORT" (or "[v6]:PORT") into host and port.  False with a message.
 */
bool
parse_address(const char *address, char *host, size_t hostlen, int *port)
{
	const char *colon;
	const char *h = address;
	size_t		hlen;
	char	   *end;
	long		v;

	if (address[0] == '[')
	{
		const char *close = strchr(address, ']');

		colon = close && close[1] == ':' ? close + 1 : NULL;
		h = address + 1;
		hlen = close ? (size_t) (close - h) : 0;
	}
	else
	{
		colon = strrchr(address, ':');
		hlen = colon ? (size_t) (colon - address) : 0;
	}
	v = colon ? strtol(colon + 1, &end, 10) : 0;
	if (colon == NULL || hlen == 0 || hlen >= hostlen || *end != '\0' || v < 1 || v > 65535)
	{
		fprintf(stderr, "%s: --address must be HOST:PORT, not \"%s\"\n", progname, address);
		return false;
	}
	memcpy(host, h, hlen);
	host[hlen] = '\0';
	if (strpbrk(host, " \t\n;'\\,"))
	{
		fprintf(stderr, "%s: the host in --address may not contain spaces , ; ' or \\\n", progname);
		return false;
	}
	*port = (int) v;
	return true;
}

/*
 * The running postmaster of 'datadir', from postmaster.pid: its PID, port
 * and first socket directory.  0 if none runs there.
 */
pid_t
running_postmaster(const char *datadir, int *port, char *sockdir, size_t socklen)
{
	char		path[MAXPGPATH];
	char	   *text;
	char	   *lines[8] = {0};
	int			n = 0;
	pid_t		pid;

	snprintf(path, sizeof(path), "%s/postmaster.pid", datadir);
	text = read_text_file(path);
	if (text == NULL)
		return 0;
	for (char *l = text; l && n < 8; n++)
	{
		lines[n] = l;
		l = strchr(l, '\n');
		if (l)
			*l++ = '\0';
	}
	pid = lines[0] ? (pid_t) atol(lines[0]) : 0;
	if (pid <= 0 || (kill(pid, 0) != 0 && errno == ESRCH))
		pid = 0;
	if (port)
		*port = lines[3] ? atoi(lines[3]) : 0;
	if (sockdir)
		strlcpy(sockdir, lines[4] ? lines[4] : "", socklen);
	free(text);
	return pid;
}

/* pg_ctl start, waiting until the server accepts connections. */
bool
start_server(const char *bindir, const NodePaths *p)
{
	char		pg_ctl[MAXPGPATH];
	char	   *argv[] = {pg_ctl, "-D", (char *) p->datadir, "-l", (char *) p->logfile,
	"-w", "-t", "120", "start", NULL};

	snprintf(pg_ctl, sizeof(pg_ctl), "%s/pg_ctl", bindir);
	printf("%s: starting the server: pg_ctl -D %s -l %s start\n", progname, p->datadir, p->logfile);
	if (run_program(argv, NULL, 0) != 0)
	{
		fprintf(stderr, "%s: the server did not start: see %s\n", progname, p->logfile);
		return false;
	}
	return true;
}

static void
ignore_notice(void *arg, const char *message)
{
}

/*
 * Connect to the server of 'datadir' as the server's user through its Unix
 * socket (peer authentication), or TCP on 'host' if it has no socket.
 */
PGconn *
connect_local(const char *datadir, const char *host, char *error, size_t errlen)
{
	char		sockdir[MAXPGPATH];
	char		portstr[16];
	int			port = 0;
	const char *keys[] = {"host", "port", "dbname", "user", "connect_timeout",
	"application_name", NULL};
	const char *vals[7];
	PGconn	   *conn;

	if (running_postmaster(datadir, &port, sockdir, sizeof(sockdir)) == 0)
	{
		snprintf(error, errlen, "no server runs in %s", datadir);
		return NULL;
	}
	snprintf(portstr, sizeof(portstr), "%d", port);
	vals[0] = sockdir[0] ? sockdir : host;
	vals[1] = portstr;
	vals[2] = "postgres";
	vals[3] = server_user;
	vals[4] = "5";
	vals[5] = "raftctl";
	vals[6] = NULL;
	conn = PQconnectdbParams(keys, vals, 0);
	if (PQstatus(conn) != CONNECTION_OK)
	{
		snprintf(error, errlen, "%s", trimmed(PQerrorMessage(conn)));
		PQfinish(conn);
		return NULL;
	}
	/* "already exists, skipping" of a re-run is no news for the operator */
	PQsetNoticeProcessor(conn, ignore_notice, NULL);
	return conn;
}

/* The single value of a query, or NULL (malloc'd). */
char *
query_value(PGconn *conn, const char *sql)
{
	PGresult   *res = PQexec(conn, sql);
	char	   *v = NULL;

	if (PQresultStatus(res) == PGRES_TUPLES_OK && PQntuples(res) == 1 && !PQgetisnull(res, 0, 0))
		v = strdup(PQgetvalue(res, 0, 0));
	PQclear(res);
	return v;
}

/* Whether a query's single value is "t". */
bool
query_true(PGconn *conn, const char *sql)
{
	char	   *v = query_value(conn, sql);
	bool		t = v && strcmp(v, "t") == 0;

	free(v);
	return t;
}

/*
 * Wait up to timeout_s seconds, polling every 200 ms, until cond(arg) is
 * true.  Says what it waits for first; false if the time ran out.
 */
bool
wait_until(bool (*cond) (void *arg), void *arg, int timeout_s, const char *what)
{
	long long	deadline = now_ms() + (long long) timeout_s * 1000;

	printf("%s: waiting (at most %d s) until %s\n", progname, timeout_s, what);
	fflush(stdout);
	for (;;)
	{
		if (cond(arg))
			return true;
		if (now_ms() >= deadline)
		{
			fprintf(stderr, "%s: timed out after %d s waiting until %s\n", progname, timeout_s, what);
			return false;
		}
		usleep(200 * 1000);
	}
}
