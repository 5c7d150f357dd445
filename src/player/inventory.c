/* The player's inventory; see inventory.h. */
#include "inventory.h"

#include <arpa/inet.h>
#include <dirent.h>
#include <ifaddrs.h>
#include <net/if.h>
#include <netinet/in.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <sys/sysinfo.h>
#include <sys/utsname.h>
#include <unistd.h>

#define MAX_ENTRIES 32

/* First line of a small file, trimmed; "" when unreadable. */
static void read_line(const char *path, char *out, size_t outsz)
{
	out[0] = '\0';
	FILE *f = fopen(path, "r");
	if (!f)
		return;
	if (fgets(out, (int)outsz, f)) {
		size_t n = strlen(out);
		while (n && (out[n - 1] == '\n' || out[n - 1] == ' ' || out[n - 1] == '\0'))
			out[--n] = '\0';
	}
	fclose(f);
}

static void set_text(json_t *obj, const char *key, const char *value)
{
	if (value && *value)
		json_object_set_new(obj, key, json_stringn(value, strnlen(value, 200)));
}

/* NAME="value" from /etc/os-release */
static void os_release(json_t *os)
{
	FILE *f = fopen("/etc/os-release", "r");
	if (!f)
		f = fopen("/usr/lib/os-release", "r");
	if (!f)
		return;
	char line[512];
	while (fgets(line, sizeof line, f)) {
		const char *key = strncmp(line, "PRETTY_NAME=", 12) == 0  ? "name"
		                  : strncmp(line, "VERSION_ID=", 11) == 0 ? "version"
		                                                          : NULL;
		if (!key)
			continue;
		char *v = strchr(line, '=') + 1;
		size_t n = strcspn(v, "\n");
		v[n] = '\0';
		if (*v == '"' && n >= 2 && v[n - 1] == '"') {
			v[n - 1] = '\0';
			v++;
		}
		set_text(os, key, v);
	}
	fclose(f);
}

static json_t *cpu_info(const char *machine)
{
	json_t *cpu = json_object();
	set_text(cpu, "arch", machine);
	json_object_set_new(cpu, "cores", json_integer(sysconf(_SC_NPROCESSORS_ONLN)));
	FILE *f = fopen("/proc/cpuinfo", "r");
	char line[512];
	while (f && fgets(line, sizeof line, f)) {
		if (strncmp(line, "model name", 10) == 0 || strncmp(line, "Model", 5) == 0) {
			char *v = strchr(line, ':');
			if (v) {
				v += 1 + strspn(v + 1, " \t");
				v[strcspn(v, "\n")] = '\0';
				set_text(cpu, "model", v);
				break;
			}
		}
	}
	if (f)
		fclose(f);
	return cpu;
}

static json_t *memory_info(void)
{
	json_t *mem = json_object();
	FILE *f = fopen("/proc/meminfo", "r");
	char line[256];
	unsigned long long kb;
	while (f && fgets(line, sizeof line, f)) {
		if (sscanf(line, "MemTotal: %llu kB", &kb) == 1)
			json_object_set_new(mem, "total_bytes", json_integer((json_int_t)(kb * 1024)));
		else if (sscanf(line, "MemAvailable: %llu kB", &kb) == 1)
			json_object_set_new(mem, "available_bytes", json_integer((json_int_t)(kb * 1024)));
	}
	if (f)
		fclose(f);
	return mem;
}

/* Real file systems from /proc/mounts (a device path, or the data folder's). */
static json_t *disks_info(const char *data_dir)
{
	json_t *disks = json_array();
	struct stat data_st;
	bool have_data = stat(data_dir, &data_st) == 0;
	bool data_listed = false;
	FILE *f = fopen("/proc/mounts", "r");
	char dev[256], mnt[256], type[64];
	while (f && json_array_size(disks) < MAX_ENTRIES &&
	       fscanf(f, "%255s %255s %63s %*[^\n]", dev, mnt, type) == 3) {
		struct stat mst;
		bool is_data = have_data && stat(mnt, &mst) == 0 && mst.st_dev == data_st.st_dev;
		if (strncmp(dev, "/dev/", 5) != 0 && !is_data)
			continue;
		if (is_data && data_listed)
			continue;
		struct statvfs vfs;
		if (statvfs(mnt, &vfs) != 0 || vfs.f_blocks == 0)
			continue;
		json_t *d =
		    json_pack("{s:s, s:s, s:I, s:I, s:b}", "mount", mnt, "type", type, "total_bytes",
		              (json_int_t)((unsigned long long)vfs.f_blocks * vfs.f_frsize), "free_bytes",
		              (json_int_t)((unsigned long long)vfs.f_bavail * vfs.f_frsize), "player_data", is_data);
		json_array_append_new(disks, d);
		data_listed |= is_data;
	}
	if (f)
		fclose(f);
	struct statvfs vfs;
	if (!data_listed && statvfs(data_dir, &vfs) == 0) /* a container without /proc/mounts entries */
		json_array_append_new(
		    disks, json_pack("{s:s, s:I, s:I, s:b}", "mount", data_dir, "total_bytes",
		                     (json_int_t)((unsigned long long)vfs.f_blocks * vfs.f_frsize), "free_bytes",
		                     (json_int_t)((unsigned long long)vfs.f_bavail * vfs.f_frsize), "player_data", 1));
	return disks;
}

static json_t *find_interface(json_t *list, const char *name)
{
	size_t i;
	json_t *e;
	json_array_foreach (list, i, e)
		if (strcmp(json_string_value(json_object_get(e, "name")), name) == 0)
			return e;
	if (json_array_size(list) >= MAX_ENTRIES)
		return NULL;
	char path[300], mac[64];
	snprintf(path, sizeof path, "/sys/class/net/%s/address", name);
	read_line(path, mac, sizeof mac);
	e = json_pack("{s:s, s:[], s:b}", "name", name, "addresses", "up", 0);
	set_text(e, "mac", mac);
	json_array_append_new(list, e);
	return e;
}

static json_t *network_info(void)
{
	json_t *list = json_array();
	struct ifaddrs *ifa = NULL;
	if (getifaddrs(&ifa) != 0)
		return list;
	for (struct ifaddrs *p = ifa; p; p = p->ifa_next) {
		if (!p->ifa_name || (p->ifa_flags & IFF_LOOPBACK))
			continue;
		json_t *e = find_interface(list, p->ifa_name);
		if (!e)
			continue;
		if (p->ifa_flags & IFF_UP)
			json_object_set_new(e, "up", json_true());
		char addr[INET6_ADDRSTRLEN] = "";
		if (p->ifa_addr && p->ifa_addr->sa_family == AF_INET)
			inet_ntop(AF_INET, &((struct sockaddr_in *)(void *)p->ifa_addr)->sin_addr, addr, sizeof addr);
		else if (p->ifa_addr && p->ifa_addr->sa_family == AF_INET6)
			inet_ntop(AF_INET6, &((struct sockaddr_in6 *)(void *)p->ifa_addr)->sin6_addr, addr,
			          sizeof addr);
		json_t *addrs = json_object_get(e, "addresses");
		if (*addr && json_array_size(addrs) < 16)
			json_array_append_new(addrs, json_string(addr));
	}
	freeifaddrs(ifa);
	return list;
}

/* DRM connectors (/sys/class/drm/cardN-NAME): status and first mode. */
static json_t *displays_info(void)
{
	json_t *list = json_array();
	DIR *d = opendir("/sys/class/drm");
	struct dirent *de;
	while (d && (de = readdir(d)) && json_array_size(list) < MAX_ENTRIES) {
		const char *dash = strchr(de->d_name, '-');
		if (strncmp(de->d_name, "card", 4) != 0 || !dash)
			continue;
		char path[512], status[32], mode[64];
		snprintf(path, sizeof path, "/sys/class/drm/%s/status", de->d_name);
		read_line(path, status, sizeof status);
		if (!*status)
			continue;
		snprintf(path, sizeof path, "/sys/class/drm/%s/modes", de->d_name);
		read_line(path, mode, sizeof mode);
		bool connected = strcmp(status, "connected") == 0;
		json_t *e = json_pack("{s:s, s:b}", "name", dash + 1, "connected", connected);
		unsigned w, h;
		if (connected && sscanf(mode, "%ux%u", &w, &h) == 2) {
			json_object_set_new(e, "width", json_integer(w));
			json_object_set_new(e, "height", json_integer(h));
			char res[32];
			snprintf(res, sizeof res, "%ux%u", w, h);
			json_object_set_new(e, "resolution", json_string(res));
		}
		json_array_append_new(list, e);
	}
	if (d)
		closedir(d);
	return list;
}

json_t *inventory_collect(const char *data_dir, const char *version)
{
	json_t *inv = json_object();
	struct utsname u;
	bool have_uname = uname(&u) == 0;
	char model[200], host[256] = "";
	read_line("/sys/firmware/devicetree/base/model", model, sizeof model);
	if (!*model) {
		char vendor[100];
		read_line("/sys/class/dmi/id/sys_vendor", vendor, sizeof vendor);
		read_line("/sys/class/dmi/id/product_name", model, sizeof model);
		if (*vendor && *model) {
			char both[320];
			snprintf(both, sizeof both, "%s %s", vendor, model);
			memcpy(model, both, sizeof model - 1);
			model[sizeof model - 1] = '\0';
		}
	}
	set_text(inv, "model", model);
	if (gethostname(host, sizeof host - 1) == 0)
		set_text(inv, "hostname", host);
	json_object_set_new(inv, "player_version", json_string(version));
	json_t *os = json_object();
	os_release(os);
	if (have_uname)
		set_text(os, "kernel", u.release);
	json_object_set_new(inv, "os", os);
	json_object_set_new(inv, "cpu", cpu_info(have_uname ? u.machine : ""));
	json_object_set_new(inv, "memory", memory_info());
	json_object_set_new(inv, "disks", disks_info(data_dir));
	json_object_set_new(inv, "network", network_info());
	json_object_set_new(inv, "displays", displays_info());
	struct sysinfo si;
	if (sysinfo(&si) == 0)
		json_object_set_new(inv, "uptime_s", json_integer(si.uptime));
	return inv;
}

json_t *inventory_signature(json_t *inventory)
{
	json_t *sig = json_deep_copy(inventory);
	json_object_del(sig, "uptime_s");
	json_object_del(json_object_get(sig, "memory"), "available_bytes");
	size_t i;
	json_t *d;
	json_array_foreach (json_object_get(sig, "disks"), i, d) {
		json_int_t total = json_integer_value(json_object_get(d, "total_bytes"));
		json_int_t free_b = json_integer_value(json_object_get(d, "free_bytes"));
		json_object_set_new(d, "free_bytes", json_integer(total > 0 ? free_b * 100 / total : 0));
	}
	return sig;
}
