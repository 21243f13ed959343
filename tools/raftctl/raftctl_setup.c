/*
 * raftctl_setup.c
 *	  raftctl: what init and join share to set a node up: running as the
 *	  server's OS user, running programs and waiting for them, finding
 *	  PostgreSQL's bindir, the node's paths, files and directories.  The
 *	  node's configuration is in raftctl_node_conf.c, its local server in
 *	  raftctl_node_server.c.
 */
#include <dirent.h>
#include <fcntl.h>
#include <ftw.h>
#include <grp.h>
#include <pwd.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "raftctl.h"

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

/*
 * Whether process 'pid' runs 'program' (the last component of its argv[0])
 * with "-D dir" among its arguments, from /proc/<pid>/cmdline.
 */
static bool
runs_program_on(pid_t pid, const char *program, const char *dir)
{
	char		path[64];
	char		args[8192];
	ssize_t		n;
	int			fd;
	const char *prev = NULL;
	const char *base;

	snprintf(path, sizeof(path), "/proc/%d/cmdline", (int) pid);
	fd = open(path, O_RDONLY);
	if (fd < 0)
		return false;
	n = read(fd, args, sizeof(args) - 1);
	close(fd);
	if (n <= 0)
		return false;
	args[n] = '\0';
	base = strrchr(args, '/');
	if (strcmp(base ? base + 1 : args, program) != 0)
		return false;
	for (const char *a = args; a < args + n; a += strlen(a) + 1)
	{
		if (prev && strcmp(prev, "-D") == 0 && strcmp(a, dir) == 0)
			return true;
		prev = a;
	}
	return false;
}

/*
 * Kill (SIGKILL) every process of this user that runs 'program' with
 * "-D dir", and wait up to 10 s until they are gone.  A raftctl killed
 * during pg_basebackup takes its pg_basebackup with it (PR_SET_PDEATHSIG),
 * but not the child pg_basebackup forks to stream WAL, which may write
 * into the clone until its replication connection ends.
 */
void
kill_programs_on(const char *program, const char *dir)
{
	for (int round = 0; round < 50; round++)
	{
		DIR		   *d = opendir("/proc");
		struct dirent *e;
		int			found = 0;

		if (d == NULL)
			return;
		while ((e = readdir(d)) != NULL)
		{
			char	   *end;
			long		pid = strtol(e->d_name, &end, 10);

			if (*end != '\0' || pid <= 1 || pid == (long) getpid() ||
				!runs_program_on((pid_t) pid, program, dir))
				continue;
			if (round == 0)
				printf("%s: stopping %s (pid %ld) of an earlier run, still writing into %s\n",
					   progname, program, pid, dir);
			if (kill((pid_t) pid, SIGKILL) == 0)
				found++;
		}
		closedir(d);
		if (found == 0)
			return;
		usleep(200 * 1000);
	}
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
