/* Giving up root once the sockets are bound; see privdrop.h. */
#include "privdrop.h"

#include <errno.h>
#include <grp.h>
#include <pwd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/types.h>
#include <unistd.h>

/* The account named user, its strings in buf. 0, or -1 with a sentence. */
static int lookup(const char *user, struct passwd *pw, char *buf, size_t bufsz, char *err, size_t errsz)
{
	struct passwd *found = NULL;
	int rc = getpwnam_r(user, pw, buf, bufsz, &found);
	if (rc != 0 && rc != ENOENT && rc != ESRCH) {
		snprintf(err, errsz, "cannot look up the user \"%s\": %s", user, strerror(rc));
		return -1;
	}
	if (!found) {
		snprintf(err, errsz,
		         "there is no user \"%s\" on this system: create it (systemd-sysusers, or adduser --system) "
		         "or name another one",
		         user);
		return -1;
	}
	return 0;
}

static bool all_ids_are(uid_t uid, gid_t gid)
{
	uid_t ru, eu, su;
	gid_t rg, eg, sg;
	if (getresuid(&ru, &eu, &su) != 0 || getresgid(&rg, &eg, &sg) != 0)
		return false;
	return ru == uid && eu == uid && su == uid && rg == gid && eg == gid && sg == gid;
}

int privdrop_to(const char *user, char *err, size_t errsz)
{
	if (!user || !*user) {
		snprintf(err, errsz, "no user named to switch to");
		return -1;
	}
	struct passwd pw;
	char buf[16384];
	if (lookup(user, &pw, buf, sizeof buf, err, errsz) != 0)
		return -1;
	if (pw.pw_uid == 0) {
		snprintf(err, errsz, "the user \"%s\" is root (uid 0): name an unprivileged account", user);
		return -1;
	}
	if (!privdrop_is_root()) {
		if (all_ids_are(pw.pw_uid, pw.pw_gid))
			return 0; /* started as that account already (a service manager did the switch) */
		snprintf(err, errsz, "only root can switch to the user \"%s\" (this process runs as uid %u)", user,
		         (unsigned)geteuid());
		return -1;
	}
	if (initgroups(pw.pw_name, pw.pw_gid) != 0) {
		snprintf(err, errsz, "cannot take the groups of the user \"%s\": %s", user, strerror(errno));
		return -1;
	}
	if (setgid(pw.pw_gid) != 0) {
		snprintf(err, errsz, "cannot switch to the group %u of the user \"%s\": %s", (unsigned)pw.pw_gid, user,
		         strerror(errno));
		return -1;
	}
	if (setuid(pw.pw_uid) != 0) {
		snprintf(err, errsz, "cannot switch to the user \"%s\": %s", user, strerror(errno));
		return -1;
	}
	/* the way back must be closed: no id left at 0, and setuid(0) refused */
	if (!all_ids_are(pw.pw_uid, pw.pw_gid) || setuid(0) != -1 || seteuid(0) != -1) {
		snprintf(err, errsz, "switched to the user \"%s\" but root can still be regained: refusing to run",
		         user);
		return -1;
	}
	return 0;
}

bool privdrop_is_root(void)
{
	return geteuid() == 0;
}

void privdrop_whoami(char *out, size_t outsz)
{
	struct passwd pw, *found = NULL;
	char buf[16384];
	if (getpwuid_r(geteuid(), &pw, buf, sizeof buf, &found) == 0 && found)
		snprintf(out, outsz, "%s", pw.pw_name);
	else
		snprintf(out, outsz, "uid %u", (unsigned)geteuid());
}
