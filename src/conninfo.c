/*
 * conninfo.c
 *	  Member addresses (libpq conninfo strings): the check every address
 *	  passes before it is accepted, and the masked forms in which an address
 *	  or a libpq complaint about one may be shown.
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

#include "lib/stringinfo.h"

#include "libpq-fe.h"

#include "conninfo.h"

/* What replaces a secret. */
#define RAFT_MASK	"********"

/* Append value to buf as a conninfo value, quoted if it needs to be. */
static void
append_conninfo_value(StringInfo buf, const char *value)
{
	bool		quote = (*value == '\0');

	for (const char *p = value; *p && !quote; p++)
	{
		if (isspace((unsigned char) *p) || *p == '\'' || *p == '\\')
			quote = true;
	}
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
		if (buf.len > 0)
			appendStringInfoChar(&buf, ' ');
		appendStringInfo(&buf, "%s=", o->keyword);
		if (o->dispchar != NULL && o->dispchar[0] == '*')
			appendStringInfoString(&buf, RAFT_MASK);
		else
			append_conninfo_value(&buf, o->val);
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
