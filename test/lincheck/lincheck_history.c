/*
 * lincheck_history.c
 *	  Reading a history file (the format is in lincheck.c) into ops[]: what
 *	  the search needs, checked line by line.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "lincheck.h"

char	  **clients;
int			nclients;
char	  **keys;
int			nkeys;
Op		   *ops;
long		nops;
long		nfailed;
long		ninfo_reads;
int64_t		time_origin = INT64_MAX;

/* Exit with a message about bad input. */
static void
bad_input(long line, const char *what)
{
	fprintf(stderr, "lincheck: line %ld: %s\n", line, what);
	exit(3);
}

/* Out of memory is fatal. */
void *
xrealloc(void *p, size_t n)
{
	p = realloc(p, n ? n : 1);
	if (p == NULL)
	{
		fprintf(stderr, "lincheck: out of memory\n");
		exit(3);
	}
	return p;
}

/* Index of name in *names, added if new (linear: few clients and keys). */
static int
intern(char ***names, int *n, const char *name)
{
	for (int i = *n - 1; i >= 0; i--)
		if (strcmp((*names)[i], name) == 0)
			return i;
	*names = xrealloc(*names, sizeof(char *) * (*n + 1));
	(*names)[*n] = xrealloc(NULL, strlen(name) + 1);
	strcpy((*names)[*n], name);
	return (*n)++;
}

/* A signed 64-bit value, or "-" (NONE), or "nil" when allow_nil. */
static int64_t
parse_value(const char *s, long line, bool allow_nil)
{
	char	   *end;
	long long	v;

	if (strcmp(s, "-") == 0)
		return NONE;
	if (allow_nil && strcmp(s, "nil") == 0)
		return NIL;
	errno = 0;
	v = strtoll(s, &end, 10);
	if (errno != 0 || *end != '\0' || end == s || v <= NONE)
		bad_input(line, "a value must be a 64-bit integer or -");
	return v;
}

/* Read the history file into ops[]. */
void
read_history(FILE *in)
{
	char		buf[4096];
	long		line = 0;
	long		cap = 0;

	while (fgets(buf, sizeof(buf), in))
	{
		char	   *f[9];
		int			nf = 0;
		char	   *save = NULL;
		Op			op;

		memset(&op, 0, sizeof(op));
		line++;
		if (strchr(buf, '\n') == NULL && !feof(in))
			bad_input(line, "line too long");
		for (char *t = strtok_r(buf, " \t\r\n", &save); t;
			 t = strtok_r(NULL, " \t\r\n", &save))
		{
			f[nf++] = t;
			if (nf == 9)
				break;
		}
		if (nf == 0 || f[0][0] == '#')
			continue;
		if (nf < 9)
			bad_input(line, "expected 9 fields: client op key arg arg2 invoke complete outcome result");
		/* What follows RESULT (node=, host= ...) is shown, not read. */
		save += save ? strspn(save, " \t") : 0;
		if (save && *save)
		{
			save[strcspn(save, "\r\n")] = '\0';
			op.note = *save ? xrealloc(NULL, strlen(save) + 1) : NULL;
			if (op.note)
				strcpy(op.note, save);
		}

		op.line = line;
		if (strcmp(f[1], "r") == 0)
			op.kind = OP_READ;
		else if (strcmp(f[1], "w") == 0)
			op.kind = OP_WRITE;
		else if (strcmp(f[1], "c") == 0)
			op.kind = OP_CAS;
		else
			bad_input(line, "op must be r, w or c");
		if (strcmp(f[7], "ok") == 0)
			op.outcome = OUT_OK;
		else if (strcmp(f[7], "fail") == 0)
			op.outcome = OUT_FAIL;
		else if (strcmp(f[7], "info") == 0)
			op.outcome = OUT_INFO;
		else
			bad_input(line, "outcome must be ok, fail or info");
		op.arg = parse_value(f[3], line, false);
		op.arg2 = parse_value(f[4], line, false);
		op.invoke = parse_value(f[5], line, false);
		op.complete = parse_value(f[6], line, false);
		op.result = parse_value(f[8], line, op.kind == OP_READ);
		if (op.invoke == NONE)
			bad_input(line, "the invoke time is required");
		if (op.outcome != OUT_INFO &&
			(op.complete == NONE || op.complete < op.invoke))
			bad_input(line, "a completed op needs a completion time not before its invocation");
		if (op.kind == OP_WRITE && op.arg == NONE)
			bad_input(line, "a write needs a value");
		if (op.kind == OP_CAS && (op.arg == NONE || op.arg2 == NONE))
			bad_input(line, "a compare-and-set needs an expected and a new value");
		if (op.outcome == OUT_OK && op.kind == OP_READ && op.result == NONE)
			bad_input(line, "a completed read needs its value (or nil)");
		if (op.outcome == OUT_OK && op.kind == OP_CAS &&
			op.result != 0 && op.result != 1)
			bad_input(line, "a completed compare-and-set returns 1 or 0");

		if (op.invoke < time_origin)
			time_origin = op.invoke;
		if (op.outcome == OUT_FAIL || (op.outcome == OUT_INFO && op.kind == OP_READ))
		{
			if (op.outcome == OUT_FAIL)
				nfailed++;
			else
				ninfo_reads++;
			free(op.note);
			continue;
		}
		if (op.outcome == OUT_INFO)
			op.complete = FOREVER;
		op.shown_arg = op.arg;
		op.shown_arg2 = op.arg2;
		op.client = intern(&clients, &nclients, f[0]);
		op.key = intern(&keys, &nkeys, f[2]);
		if (nops == cap)
		{
			cap = cap ? cap * 2 : 1024;
			ops = xrealloc(ops, sizeof(Op) * cap);
		}
		ops[nops++] = op;
	}
	if (ferror(in))
	{
		fprintf(stderr, "lincheck: read error\n");
		exit(3);
	}
}
