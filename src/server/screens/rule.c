/* Screen rules: parser and evaluator; see rule.h. */
#include "rule.h"

#include <ctype.h>
#include <math.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define MAX_DEPTH  16
#define MAX_VALUES 64 /* values of one field looked at (tags, disks, addresses) */

/* name : where in the screen's JSON view ("a.b[]" walks every element of
 * the array a.b) : divisor applied to numbers (bytes to MiB) */
static const struct rule_field {
	const char *name;
	const char *path;
	double divisor;
} rule_fields[] = {
    {"id", "id", 0},
    {"name", "name", 0},
    {"group", "group", 0},
    {"tag", "tags[]", 0},
    {"online", "online", 0},
    {"ip", "last_ip", 0},
    {"channel", "channel_id", 0},
    {"version", "version", 0},
    {"hostname", "inventory.hostname", 0},
    {"model", "inventory.model", 0},
    {"os", "inventory.os.name", 0},
    {"os_version", "inventory.os.version", 0},
    {"kernel", "inventory.os.kernel", 0},
    {"arch", "inventory.cpu.arch", 0},
    {"cpu", "inventory.cpu.model", 0},
    {"cores", "inventory.cpu.cores", 0},
    {"memory_mb", "inventory.memory.total_bytes", 1048576.0},
    {"disk_free_mb", "inventory.disks[].free_bytes", 1048576.0},
    {"interface", "inventory.network[].name", 0},
    {"address", "inventory.network[].addresses[]", 0},
    {"mac", "inventory.network[].mac", 0},
    {"display", "inventory.displays[].name", 0},
    {"resolution", "inventory.displays[].resolution", 0},
    {"uptime_s", "state.uptime_s", 0},
    {"city", "location.city", 0},
    {"country", "location.country", 0},
};
#define N_FIELDS (sizeof rule_fields / sizeof rule_fields[0])

enum op { OP_EQ, OP_NE, OP_LT, OP_LE, OP_GT, OP_GE, OP_HAS, OP_HASNT };
enum kind { N_AND, N_OR, N_NOT, N_CMP };

struct node {
	enum kind kind;
	int a, b; /* children (N_AND, N_OR: both; N_NOT: a) */
	const struct rule_field *field;
	enum op op;
	char *value;
	bool value_is_number;
	double number;
};

struct rule {
	struct node nodes[RULE_MAX_NODES];
	int count, root;
};

struct parser {
	const char *text, *p;
	struct rule *rule;
	char *err;
	size_t errsz;
	int depth;
	bool failed;
};

const char *rule_field_names(void)
{
	static char names[512];
	if (!names[0]) {
		size_t used = 0;
		for (size_t i = 0; i < N_FIELDS; i++) {
			int n = snprintf(names + used, sizeof names - used, "%s%s", i ? ", " : "", rule_fields[i].name);
			if (n < 0 || (size_t)n >= sizeof names - used)
				break;
			used += (size_t)n;
		}
	}
	return names;
}

static int fail(struct parser *ps, const char *fmt, ...)
{
	if (!ps->failed) {
		int n = snprintf(ps->err, ps->errsz, "at character %d: ", (int)(ps->p - ps->text) + 1);
		va_list ap;
		va_start(ap, fmt);
		if (n >= 0 && (size_t)n < ps->errsz)
			vsnprintf(ps->err + n, ps->errsz - (size_t)n, fmt, ap);
		va_end(ap);
		ps->failed = true;
	}
	return -1;
}

static void skip_space(struct parser *ps)
{
	while (*ps->p == ' ' || *ps->p == '+' || *ps->p == '\t' || *ps->p == '\n' || *ps->p == '\r')
		ps->p++;
}

static bool word_char(char c)
{
	return c && (isalnum((unsigned char)c) || strchr("._:/@*-", c) != NULL);
}

/* The keyword kw (and, or, not) stands at p, followed by a non-word character. */
static bool keyword(struct parser *ps, const char *kw)
{
	skip_space(ps);
	size_t n = strlen(kw);
	if (strncasecmp(ps->p, kw, n) != 0 || word_char(ps->p[n]))
		return false;
	ps->p += n;
	return true;
}

static int new_node(struct parser *ps, enum kind kind, int a, int b)
{
	if (ps->rule->count >= RULE_MAX_NODES)
		return fail(ps, "the rule is too long (at most %d comparisons and operators)", RULE_MAX_NODES);
	struct node *n = &ps->rule->nodes[ps->rule->count];
	memset(n, 0, sizeof *n);
	n->kind = kind;
	n->a = a;
	n->b = b;
	return ps->rule->count++;
}

/* A number is the whole value: "12", "-3.5"; not "1.2.3" nor "0x10". */
static bool parse_number(const char *s, double *out)
{
	if (!*s || strlen(s) > 40)
		return false;
	char *end;
	double v = strtod(s, &end);
	if (*end || !isfinite(v) || strchr(s, 'x') || strchr(s, 'X') || strchr(s, 'n') || strchr(s, 'N') ||
	    strchr(s, 'i') || strchr(s, 'I'))
		return false;
	*out = v;
	return true;
}

static char *parse_value(struct parser *ps)
{
	skip_space(ps);
	char buf[RULE_MAX_TEXT + 1];
	size_t n = 0;
	if (*ps->p == '"') {
		ps->p++;
		while (*ps->p && *ps->p != '"') {
			if (*ps->p == '\\' && (ps->p[1] == '"' || ps->p[1] == '\\'))
				ps->p++;
			if (n < sizeof buf - 1)
				buf[n++] = *ps->p;
			ps->p++;
		}
		if (*ps->p != '"') {
			fail(ps, "a quoted value is not closed (a \" is missing)");
			return NULL;
		}
		ps->p++;
	} else {
		while (word_char(*ps->p) && n < sizeof buf - 1)
			buf[n++] = *ps->p++;
		if (!n) {
			fail(ps, "expected a value (a word or a \"quoted string\")");
			return NULL;
		}
	}
	buf[n] = '\0';
	char *v = strdup(buf);
	if (!v)
		fail(ps, "out of memory");
	return v;
}

static int parse_or(struct parser *ps);

static int parse_comparison(struct parser *ps)
{
	skip_space(ps);
	const char *start = ps->p;
	while (isalnum((unsigned char)*ps->p) || *ps->p == '_')
		ps->p++;
	size_t len = (size_t)(ps->p - start);
	const struct rule_field *field = NULL;
	for (size_t i = 0; i < N_FIELDS && len; i++)
		if (strlen(rule_fields[i].name) == len && strncasecmp(rule_fields[i].name, start, len) == 0)
			field = &rule_fields[i];
	if (!field) {
		ps->p = start;
		return len ? fail(ps, "unknown field \"%.*s\" (fields: %s)", (int)(len > 40 ? 40 : len), start,
		                  rule_field_names())
		           : fail(ps, "expected a field name (%s)", rule_field_names());
	}
	skip_space(ps);
	static const struct {
		const char *text;
		enum op op;
	} ops[] = {{"!=", OP_NE}, {"<=", OP_LE}, {">=", OP_GE}, {"!~", OP_HASNT},
	           {"=", OP_EQ},  {"<", OP_LT},  {">", OP_GT},  {"~", OP_HAS}};
	int found = -1;
	for (size_t i = 0; i < sizeof ops / sizeof ops[0] && found < 0; i++)
		if (strncmp(ps->p, ops[i].text, strlen(ops[i].text)) == 0)
			found = (int)i;
	if (found < 0)
		return fail(ps, "expected an operator after \"%s\" (=, !=, <, <=, >, >=, ~, !~)", field->name);
	ps->p += strlen(ops[found].text);
	char *value = parse_value(ps);
	if (!value)
		return -1;
	int id = new_node(ps, N_CMP, -1, -1);
	if (id < 0) {
		free(value);
		return -1;
	}
	struct node *n = &ps->rule->nodes[id];
	n->field = field;
	n->op = ops[found].op;
	n->value = value;
	n->value_is_number = parse_number(value, &n->number);
	return id;
}

static int parse_unary(struct parser *ps)
{
	if (++ps->depth > MAX_DEPTH)
		return fail(ps, "the rule nests too deep (at most %d levels)", MAX_DEPTH);
	int id;
	skip_space(ps);
	if (keyword(ps, "not")) {
		int a = parse_unary(ps);
		id = a < 0 ? -1 : new_node(ps, N_NOT, a, -1);
	} else if (*ps->p == '(') {
		ps->p++;
		id = parse_or(ps);
		skip_space(ps);
		if (id >= 0 && *ps->p != ')')
			id = fail(ps, "expected \")\"");
		else if (id >= 0)
			ps->p++;
	} else {
		id = parse_comparison(ps);
	}
	ps->depth--;
	return id;
}

static int parse_and(struct parser *ps)
{
	int left = parse_unary(ps);
	while (left >= 0 && keyword(ps, "and")) {
		int right = parse_unary(ps);
		left = right < 0 ? -1 : new_node(ps, N_AND, left, right);
	}
	return left;
}

static int parse_or(struct parser *ps)
{
	int left = parse_and(ps);
	while (left >= 0 && keyword(ps, "or")) {
		int right = parse_and(ps);
		left = right < 0 ? -1 : new_node(ps, N_OR, left, right);
	}
	return left;
}

struct rule *rule_parse(const char *text, char *err, size_t errsz)
{
	if (!text || strlen(text) > RULE_MAX_TEXT) {
		snprintf(err, errsz, "a rule is a text of at most %d bytes", RULE_MAX_TEXT);
		return NULL;
	}
	struct rule *r = calloc(1, sizeof *r);
	if (!r) {
		snprintf(err, errsz, "out of memory");
		return NULL;
	}
	struct parser ps = {.text = text, .p = text, .rule = r, .err = err, .errsz = errsz};
	skip_space(&ps);
	if (!*ps.p) {
		snprintf(err, errsz, "the rule is empty (example: version < 1.5 and tag = lobby)");
		rule_free(r);
		return NULL;
	}
	r->root = parse_or(&ps);
	skip_space(&ps);
	if (r->root >= 0 && *ps.p)
		r->root = fail(&ps, "expected \"and\", \"or\" or the end of the rule");
	if (r->root < 0) {
		rule_free(r);
		return NULL;
	}
	return r;
}

void rule_free(struct rule *r)
{
	if (!r)
		return;
	for (int i = 0; i < r->count; i++)
		free(r->nodes[i].value);
	free(r);
}

/* --- evaluation --- */

struct values {
	json_t *v[MAX_VALUES];
	size_t n;
};

/* Collects what path names in j (walking "[]" segments) into out. */
static void collect(json_t *j, const char *path, struct values *out)
{
	if (!j || out->n >= MAX_VALUES)
		return;
	if (!*path) {
		out->v[out->n++] = j;
		return;
	}
	const char *dot = strchr(path, '.');
	size_t len = dot ? (size_t)(dot - path) : strlen(path);
	const char *rest = dot ? dot + 1 : "";
	bool each = len > 2 && path[len - 2] == '[' && path[len - 1] == ']';
	char key[64];
	size_t klen = each ? len - 2 : len;
	if (klen >= sizeof key)
		return;
	memcpy(key, path, klen);
	key[klen] = '\0';
	json_t *child = json_object_get(j, key);
	if (!each) {
		collect(child, rest, out);
		return;
	}
	size_t i;
	json_t *e;
	json_array_foreach (child, i, e)
		collect(e, rest, out);
}

/* Case-insensitive comparison with runs of digits compared as numbers. */
static int natural_cmp(const char *a, const char *b)
{
	while (*a && *b) {
		if (isdigit((unsigned char)*a) && isdigit((unsigned char)*b)) {
			while (*a == '0' && isdigit((unsigned char)a[1]))
				a++;
			while (*b == '0' && isdigit((unsigned char)b[1]))
				b++;
			size_t la = 0, lb = 0;
			while (isdigit((unsigned char)a[la]))
				la++;
			while (isdigit((unsigned char)b[lb]))
				lb++;
			if (la != lb)
				return la < lb ? -1 : 1;
			int c = strncmp(a, b, la);
			if (c)
				return c < 0 ? -1 : 1;
			a += la;
			b += lb;
			continue;
		}
		int ca = tolower((unsigned char)*a), cb = tolower((unsigned char)*b);
		if (ca != cb)
			return ca < cb ? -1 : 1;
		a++;
		b++;
	}
	return *a ? 1 : *b ? -1 : 0;
}

static bool contains_nocase(const char *hay, const char *needle)
{
	size_t n = strlen(needle);
	for (; *hay; hay++)
		if (strncasecmp(hay, needle, n) == 0)
			return true;
	return n == 0;
}

/* One value against the comparison (OP_NE and OP_HASNT are asked as OP_EQ
 * and OP_HAS, then negated over all values by the caller). */
static bool value_matches(const struct node *n, enum op op, json_t *v)
{
	char text[64];
	const char *s = NULL;
	double num = 0;
	bool is_num = false;
	if (json_is_string(v)) {
		s = json_string_value(v);
		is_num = n->value_is_number && parse_number(s, &num);
	} else if (json_is_number(v)) {
		num = json_number_value(v) / (n->field->divisor > 0 ? n->field->divisor : 1);
		is_num = true;
		snprintf(text, sizeof text, "%.15g", num);
		s = text;
	} else if (json_is_boolean(v)) {
		s = json_is_true(v) ? "true" : "false";
	} else {
		return false;
	}
	if (op == OP_HAS)
		return contains_nocase(s, n->value);
	int c;
	if (is_num && n->value_is_number)
		c = num < n->number ? -1 : num > n->number ? 1 : 0;
	else
		c = natural_cmp(s, n->value);
	switch (op) {
	case OP_EQ:
		return c == 0;
	case OP_LT:
		return c < 0;
	case OP_LE:
		return c <= 0;
	case OP_GT:
		return c > 0;
	case OP_GE:
		return c >= 0;
	default:
		return false;
	}
}

static bool eval(const struct rule *r, int id, json_t *screen)
{
	const struct node *n = &r->nodes[id];
	switch (n->kind) {
	case N_AND:
		return eval(r, n->a, screen) && eval(r, n->b, screen);
	case N_OR:
		return eval(r, n->a, screen) || eval(r, n->b, screen);
	case N_NOT:
		return !eval(r, n->a, screen);
	case N_CMP:
		break;
	}
	struct values vals = {.n = 0};
	collect(screen, n->field->path, &vals);
	bool negate = n->op == OP_NE || n->op == OP_HASNT;
	enum op op = n->op == OP_NE ? OP_EQ : n->op == OP_HASNT ? OP_HAS : n->op;
	for (size_t i = 0; i < vals.n; i++)
		if (value_matches(n, op, vals.v[i]))
			return !negate;
	return negate;
}

bool rule_match(const struct rule *r, json_t *screen)
{
	return r && r->root >= 0 && eval(r, r->root, screen);
}
