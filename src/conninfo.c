/*
 * conninfo.c
 *	  Member addresses (libpq conninfo strings): parsing, the one quoting
 *	  function, the check every address passes before it is accepted, the
 *	  masked forms in which an address or a libpq complaint about one may be
 *	  shown, and the server (host, port) an address names.
 *
 * An address reaches places where its bytes matter: the transport hands it
 * to libpq, and auto_follow writes it into postgresql.auto.conf, where a
 * newline would end the line and leave a file the server cannot start
 * with.  So control characters are refused wherever an address comes in
 * (raft_ext.peers, raft_ext.add_node()).
 *
 * An address may hold a password.  raft_status and raft_peers are readable
 * by PUBLIC and the server log by more people than the configuration, so
 * nothing but raft_conninfo_masked() output, or a libpq message passed
 * through raft_conninfo_mask_message(), is ever shown.
 */
#include "postgres.h"

#include <ctype.h>
#include <netdb.h>

#include "lib/stringinfo.h"

#include "libpq-fe.h"

#include "conninfo.h"

/* What replaces a secret. */
#define RAFT_MASK	"********"

/* See conninfo.h. */
char *
raft_conninfo_with(const char *conninfo, const char *user, const char *passfile)
{
	PQconninfoOption *opts;
	StringInfoData buf;
	bool		new_user = user != NULL && user[0] != '\0';
	bool		new_passfile = passfile != NULL && passfile[0] != '\0';

	if ((!new_user && !new_passfile) || (opts = raft_conninfo_parse(conninfo)) == NULL)
		return pstrdup(conninfo ? conninfo : "");
	initStringInfo(&buf);
	for (PQconninfoOption *o = opts; o->keyword; o++)
	{
		if (o->val == NULL || o->val[0] == '\0' ||
			(new_user && strcmp(o->keyword, "user") == 0) ||
			(new_passfile && strcmp(o->keyword, "passfile") == 0))
			continue;
		raft_conninfo_append(&buf, o->keyword, o->val, true);
	}
	if (new_user)
		raft_conninfo_append(&buf, "user", user, true);
	if (new_passfile)
		raft_conninfo_append(&buf, "passfile", passfile, true);
	PQconninfoFree(opts);
	return buf.data;
}

/* See conninfo.h. */
PQconninfoOption *
raft_conninfo_parse(const char *conninfo)
{
	PQconninfoOption *options;
	char	   *error = NULL;

	if (conninfo == NULL || conninfo[0] == '\0')
		return NULL;
	options = PQconninfoParse(conninfo, &error);
	if (error != NULL)
		PQfreemem(error);
	return options;
}

/* See conninfo.h. */
bool
raft_conninfo_is_target(const char *keyword)
{
	return strcmp(keyword, "host") == 0 || strcmp(keyword, "hostaddr") == 0 ||
		strcmp(keyword, "port") == 0;
}

/*
 * See conninfo.h.  The quoting libpq reads: single quotes around the value,
 * a backslash before every quote and backslash inside.
 */
void
raft_conninfo_append(StringInfo buf, const char *keyword, const char *value,
					 bool always_quote)
{
	bool		quote = always_quote || (*value == '\0');

	for (const char *p = value; *p && !quote; p++)
	{
		if (isspace((unsigned char) *p) || *p == '\'' || *p == '\\')
			quote = true;
	}
	if (buf->len > 0)
		appendStringInfoChar(buf, ' ');
	appendStringInfo(buf, "%s=", keyword);
	if (!quote)
	{
		appendStringInfoString(buf, value);
		return;
	}
	appendStringInfoChar(buf, '\'');
	for (const char *p = value; *p; p++)
	{
		if (*p == '\'' || *p == '\\')
			appendStringInfoChar(buf, '\\');
		appendStringInfoChar(buf, *p);
	}
	appendStringInfoChar(buf, '\'');
}

/* See conninfo.h. */
char *
raft_conninfo_masked(const char *conninfo)
{
	PQconninfoOption *options;
	char	   *error = NULL;
	StringInfoData buf;

	if (conninfo == NULL)
		return pstrdup("");
	options = PQconninfoParse(conninfo, &error);
	if (options == NULL)
	{
		if (error)
			PQfreemem(error);
		return pstrdup(RAFT_MASK);
	}

	initStringInfo(&buf);
	for (PQconninfoOption *o = options; o->keyword != NULL; o++)
	{
		if (o->val == NULL)
			continue;
		if (o->dispchar != NULL && o->dispchar[0] == '*')
		{
			if (buf.len > 0)
				appendStringInfoChar(&buf, ' ');
			appendStringInfo(&buf, "%s=%s", o->keyword, RAFT_MASK);
		}
		else
			raft_conninfo_append(&buf, o->keyword, o->val, false);
	}
	PQconninfoFree(options);
	return buf.data;
}

/*
 * Whether a piece libpq quoted may be shown: a connection keyword libpq
 * knows, or a single punctuation character (the "=" it missed).
 */
static bool
harmless_quoted(const char *piece, size_t len)
{
	PQconninfoOption *defaults;
	bool		known = false;

	if (len == 1 && ispunct((unsigned char) piece[0]))
		return true;
	defaults = PQconndefaults();
	if (defaults == NULL)
		return false;
	for (PQconninfoOption *o = defaults; o->keyword != NULL; o++)
	{
		if (strlen(o->keyword) == len && strncmp(o->keyword, piece, len) == 0)
		{
			known = true;
			break;
		}
	}
	PQconninfoFree(defaults);
	return known;
}

/* See conninfo.h. */
char *
raft_conninfo_mask_message(const char *message)
{
	StringInfoData buf;
	const char *p = message;

	initStringInfo(&buf);
	if (message == NULL)
		return buf.data;
	while (*p)
	{
		const char *end;

		if (*p != '"')
		{
			appendStringInfoChar(&buf, *p++);
			continue;
		}
		end = strchr(p + 1, '"');
		if (end == NULL)
			end = p + strlen(p);
		appendStringInfoChar(&buf, '"');
		if (harmless_quoted(p + 1, end - p - 1))
			appendBinaryStringInfo(&buf, p + 1, end - p - 1);
		else
			appendStringInfoString(&buf, RAFT_MASK);
		appendStringInfoChar(&buf, '"');
		p = (*end == '"') ? end + 1 : end;
	}
	/* libpq ends its messages with a newline. */
	while (buf.len > 0 && isspace((unsigned char) buf.data[buf.len - 1]))
		buf.data[--buf.len] = '\0';
	return buf.data;
}

/* See conninfo.h. */
char *
raft_conninfo_problem(const char *conninfo)
{
	PQconninfoOption *options;
	char	   *error = NULL;
	char	   *problem;

	for (const unsigned char *p = (const unsigned char *) conninfo; *p; p++)
	{
		if (*p < 0x20 || *p == 0x7f)
			return psprintf("It contains a control character (byte 0x%02X at offset %d); "
							"member addresses are written into configuration files, "
							"where control characters are not allowed.",
							*p, (int) (p - (const unsigned char *) conninfo));
	}

	options = PQconninfoParse(conninfo, &error);
	if (options != NULL)
	{
		PQconninfoFree(options);
		return NULL;
	}
	if (error == NULL)
		return pstrdup("Out of memory while parsing it.");
	problem = raft_conninfo_mask_message(error);
	PQfreemem(error);
	return psprintf("It does not parse: %s.", problem);
}

/*
 * Copy one conninfo out of a peers value, stopping at the first ';' that is
 * not quoted or escaped, so that a quoted password may contain ';'.  Returns
 * the position after the conninfo (at the ';' or the end).
 */
const char *
raft_conninfo_scan(const char *p, StringInfo buf)
{
	bool		quoted = false;

	while (*p && (quoted || *p != ';'))
	{
		if (*p == '\\' && p[1] != '\0')
		{
			appendStringInfoChar(buf, *p++);
		}
		else if (*p == '\'')
			quoted = !quoted;
		appendStringInfoChar(buf, *p++);
	}
	return p;
}

/* Host and port a conninfo names (libpq's defaults filled in). */
bool
raft_conninfo_target(const char *conninfo, char *host, size_t hostlen, int *port)
{
	PQconninfoOption *options;
	const char *h = NULL;
	const char *hostaddr = NULL;
	const char *pt = NULL;

	options = raft_conninfo_parse(conninfo);
	if (options == NULL)
		return false;
	for (PQconninfoOption *o = options; o->keyword; o++)
	{
		if (o->val == NULL || o->val[0] == '\0')
			continue;
		if (strcmp(o->keyword, "host") == 0)
			h = o->val;
		else if (strcmp(o->keyword, "hostaddr") == 0)
			hostaddr = o->val;
		else if (strcmp(o->keyword, "port") == 0)
			pt = o->val;
	}
	/* The walreceiver reports hostaddr's value when only that is given. */
	strlcpy(host, h ? h : (hostaddr ? hostaddr : DEFAULT_PGSOCKET_DIR), hostlen);
	*port = pt ? atoi(pt) : DEF_PGPORT;
	PQconninfoFree(options);
	return true;
}

/* Whether two conninfos name the same server (host and port). */
bool
raft_conninfo_same_server(const char *a, const char *b)
{
	char		host_a[NI_MAXHOST];
	char		host_b[NI_MAXHOST];
	int			port_a;
	int			port_b;

	if (a == NULL || b == NULL)
		return false;
	if (!raft_conninfo_target(a, host_a, sizeof(host_a), &port_a) ||
		!raft_conninfo_target(b, host_b, sizeof(host_b), &port_b))
		return false;
	return port_a == port_b && strcmp(host_a, host_b) == 0;
}

/*
 * Free text (a helper's message) with the value after every "password="
 * or "sslpassword=" (quoted or not) replaced by asterisks.  A last line of
 * defence: the rejoin helper masks its own messages, but a custom
 * rejoin_command may not.
 */
char *
raft_conninfo_mask_text(const char *text)
{
	StringInfoData buf;
	const char *p = text;

	initStringInfo(&buf);
	while (*p != '\0')
	{
		const char *eq;

		if (pg_strncasecmp(p, "password", 8) != 0)
		{
			appendStringInfoChar(&buf, *p++);
			continue;
		}
		eq = p + 8;
		while (*eq == ' ' || *eq == '\t')
			eq++;
		appendBinaryStringInfo(&buf, p, eq - p);
		p = eq;
		if (*p != '=')
			continue;
		appendStringInfoChar(&buf, *p++);
		while (*p == ' ' || *p == '\t')
			appendStringInfoChar(&buf, *p++);
		if (*p == '\'')
		{
			/* A quoted value ends at the next quote not escaped. */
			for (p++; *p != '\0' && *p != '\''; p++)
				if (*p == '\\' && p[1] != '\0')
					p++;
			if (*p == '\'')
				p++;
		}
		else
			while (*p != '\0' && !isspace((unsigned char) *p))
				p++;
		appendStringInfoString(&buf, "********");
	}
	return buf.data;
}
