/*
 * raftctl_node_conf.c
 *	  raftctl: a node's own configuration, for init and join: conninfos,
 *	  its raft_ext.conf and the include line that names it, the pg_hba.conf
 *	  lines, the password file, the address given on the command line.
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
#include <sys/random.h>
#include <sys/stat.h>
#include <unistd.h>

#include "raftctl.h"

/* The comment line that marks what raftctl wrote into a server's file. */
#define MARK_INCLUDE	"# raft_ext: the next line was added by raftctl; it names this node's raft_ext settings"
#define MARK_HBA		"# raft_ext: added by raftctl: the Raft transport, rejoin and replication roles"

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
 * Whether --socket-dir names a directory the server can use: an absolute
 * path of an existing directory, one directory (no comma: the setting is a
 * list), without control characters.  Says why not.
 */
bool
valid_socket_dir(const char *dir)
{
	struct stat st;

	if (dir[0] != '/' || strpbrk(dir, ",\n\r\t") != NULL || strlen(dir) >= 100)
	{
		fprintf(stderr, "%s: --socket-dir must be one absolute directory path, shorter than "
				"100 characters, without commas or control characters\n", progname);
		return false;
	}
	if (stat(dir, &st) != 0 || !S_ISDIR(st.st_mode))
	{
		fprintf(stderr, "%s: --socket-dir \"%s\" is not an existing directory\n", progname, dir);
		return false;
	}
	return true;
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
	if (s->socket_dir && s->socket_dir[0])
	{
		buf_append(&b, "unix_socket_directories = ");
		buf_append_conf_string(&b, s->socket_dir);
		buf_append(&b, "\n");
	}
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
	/* members' addresses are the cluster's; the password file is this machine's */
	buf_append(&b, "raft_ext.passfile = ");
	buf_append_conf_string(&b, p->passfile);
	buf_append(&b, "\n");
	buf_append(&b,
			   "raft_ext.replication_user = '" ROLE_REPLICATION "'\n"
			   "raft_ext.rewind_user = '" ROLE_REWIND "'\n"
			   "password_encryption = 'scram-sha-256'\n"
			   "hot_standby = on\n"
			   "# pg_rewind (the rejoin of a former primary) needs hint bits in the WAL\n"
			   "# and the WAL since the last checkpoint before the fork\n"
			   "wal_log_hints = on\n"
			   "wal_keep_size = '1GB'\n"
			   "# member slots (raft_ext.member_slots) keep a member's WAL while it is\n"
			   "# away, up to this much; beyond it the slot is lost and the member re-cloned\n"
			   "max_slot_wal_keep_size = '4GB'\n");
	ok = write_file_atomically(p->conf, b.data, 0600);
	free(b.data);
	return ok;
}

/*
 * Make the server's postgresql.conf ('path') include 'conf': one marked
 * line, appended once; a marked line naming another file (a clone's,
 * naming its source's file) is replaced.  Idempotent.
 */
bool
ensure_include_line(const char *path, const char *conf)
{
	char	   *old;
	const char *mark;
	StrBuf		b = {0};
	bool		ok = true;

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
 * Put raftctl's lines for the three roles at the top of the server's
 * pg_hba.conf ('path'), once: scram-sha-256 from the server's own subnets
 * (samenet), the members' addresses, before any line that could reject
 * them.
 */
bool
ensure_hba_lines(const char *path, const char *address)
{
	char	   *old;
	StrBuf		b = {0};
	bool		ok = true;

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

/*
 * Whether neither the server's postgresql.conf nor the data directory's
 * postgresql.auto.conf has raft_ext settings, as a cluster that 'command'
 * adopts must be; says which file has them.
 */
bool
datadir_free_of_raft_ext(const NodePaths *p, const char *command)
{
	char		path[MAXPGPATH];

	for (int i = 0; i < 2; i++)
	{
		if (i == 0)
			server_config_file(p, p->datadir, path, sizeof(path));
		else
			snprintf(path, sizeof(path), "%s/postgresql.auto.conf", p->datadir);
		if (file_sets_raft_ext(path))
		{
			fprintf(stderr, "%s: %s already has raft_ext settings (another cluster's data?); "
					"raftctl %s adopts only a data directory without them\n", progname, path, command);
			return false;
		}
	}
	return true;
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
 * The roles' password a command was given or an earlier run kept:
 * 'password_file' if given, else the node's own password file.  *found is
 * false (and nothing printed) when there is neither; false with a message
 * when a file cannot be read.
 */
bool
given_password(const char *password_file, const NodePaths *p, char *pw, size_t len, bool *found)
{
	*found = true;
	if (password_file)
		return read_password_file(password_file, pw, len);
	if (access(p->passfile, R_OK) == 0)
		return read_password_file(p->passfile, pw, len);
	*found = false;
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
