/*
 * raftctl_server_config.c
 *	  raftctl: where a node's server reads its configuration, for init and
 *	  join: postgresql.conf and pg_hba.conf in the data directory (initdb's
 *	  layout), or in a directory of their own given with --config-dir
 *	  (Debian's pg_createcluster layout: /etc/postgresql/<version>/<name>,
 *	  whose postgresql.conf names the data directory and the pg_hba.conf).
 *
 * With --config-dir the server is started with -c config_file=..., as
 * pg_ctlcluster does; postmaster.opts records it, and the rejoin helper
 * restarts the server with the same configuration.  raftctl asks the
 * server's own parser (postgres -C) where the data directory and the
 * pg_hba.conf are, rather than reading the files itself: include
 * directives and defaults are then the server's.
 */
#include <sys/stat.h>
#include <unistd.h>

#include "raftctl.h"

/*
 * Record --config-dir in 'p': an absolute directory holding postgresql.conf,
 * writable (raftctl adds its include line there).  False with a message.
 */
bool
set_config_dir(NodePaths *p, const char *dir)
{
	struct stat st;
	size_t		len = strlen(dir);

	if (dir[0] != '/')
	{
		fprintf(stderr, "%s: --config-dir must be an absolute path, not \"%s\"\n", progname, dir);
		return false;
	}
	/* the path goes into pg_ctl's -o '-c config_file=...' */
	if (strpbrk(dir, "'\"\\;$`\n\t") || len + 32 >= sizeof(p->config_file))
	{
		fprintf(stderr, "%s: --config-dir may not contain quotes, \\ ; $ ` or control characters, "
				"nor be that long\n", progname);
		return false;
	}
	strlcpy(p->config_dir, dir, sizeof(p->config_dir));
	while (len > 1 && p->config_dir[len - 1] == '/')
		p->config_dir[--len] = '\0';
	snprintf(p->config_file, sizeof(p->config_file), "%s/postgresql.conf", p->config_dir);
	if (stat(p->config_file, &st) != 0 || !S_ISREG(st.st_mode))
	{
		fprintf(stderr, "%s: --config-dir \"%s\" holds no postgresql.conf (make the cluster with "
				"pg_createcluster first)\n", progname, p->config_dir);
		return false;
	}
	return true;
}

/* The postgresql.conf that configures the server of 'dir' (a data directory). */
void
server_config_file(const NodePaths *p, const char *dir, char *out, size_t outlen)
{
	if (p->config_dir[0])
		strlcpy(out, p->config_file, outlen);
	else
		snprintf(out, outlen, "%s/postgresql.conf", dir);
}

/* The pg_hba.conf of the server of 'dir'. */
void
server_hba_file(const NodePaths *p, const char *dir, char *out, size_t outlen)
{
	if (p->config_dir[0])
		strlcpy(out, p->hba_file, outlen);
	else
		snprintf(out, outlen, "%s/pg_hba.conf", dir);
}

/*
 * A setting as the server of 'p' would read it (postgres -C), into 'out'
 * without the newline.  False with a message.
 */
bool
server_setting(const char *bindir, const NodePaths *p, const char *name, char *out, size_t outlen)
{
	char		postgres[MAXPGPATH];
	char		config[MAXPGPATH + 16];
	char	   *argv[] = {postgres, "-D", (char *) p->datadir, "-C", (char *) name,
		"-c", "log_min_messages=fatal", NULL, NULL, NULL};

	snprintf(postgres, sizeof(postgres), "%s/postgres", bindir);
	/*
	 * -D of the configuration directory: postgres refuses a -D that does
	 * not exist, as the data directory of a join does not yet.  The LOG
	 * line about the data directory's missing postgresql.auto.conf is
	 * silenced (command-line settings win over the files').
	 */
	if (p->config_dir[0])
	{
		snprintf(config, sizeof(config), "config_file=%s", p->config_file);
		argv[2] = (char *) p->config_dir;
		argv[7] = "-c";
		argv[8] = config;
	}
	out[0] = '\0';
	if (run_program(argv, out, outlen) != 0)
	{
		fprintf(stderr, "%s: cannot read %s from the configuration of \"%s\" (postgres -C)\n",
				progname, name, p->config_dir[0] ? p->config_file : p->datadir);
		return false;
	}
	out[strcspn(out, "\n")] = '\0';
	return true;
}

/*
 * With --config-dir: its postgresql.conf must name this data directory
 * (data_directory), and its pg_hba.conf is found (hba_file).  False with
 * a message; nothing to do without --config-dir.
 */
bool
check_config_dir(const char *bindir, NodePaths *p)
{
	char		datadir[MAXPGPATH];
	NodePaths	named;

	if (p->config_dir[0] == '\0')
		return true;
	if (!server_setting(bindir, p, "data_directory", datadir, sizeof(datadir)) ||
		!server_setting(bindir, p, "hba_file", p->hba_file, sizeof(p->hba_file)))
		return false;
	memset(&named, 0, sizeof(named));
	if (datadir[0] != '/' || !node_paths(datadir, &named) || strcmp(named.datadir, p->datadir) != 0)
	{
		fprintf(stderr, "%s: %s names the data directory \"%s\", not \"%s\": give the -D of "
				"that cluster\n", progname, p->config_file, datadir, p->datadir);
		return false;
	}
	if (p->hba_file[0] != '/')
	{
		fprintf(stderr, "%s: %s names no absolute hba_file (\"%s\")\n", progname, p->config_file,
				p->hba_file);
		return false;
	}
	return true;
}

/*
 * pg_ctl's -o value that points the server at --config-dir's configuration
 * (NULL without it); set_config_dir refused the characters that would need
 * more quoting than the single quotes.
 */
const char *
server_start_options(const NodePaths *p, char *buf, size_t buflen)
{
	if (p->config_dir[0] == '\0')
		return NULL;
	snprintf(buf, buflen, "-c config_file='%s'", p->config_file);
	return buf;
}
