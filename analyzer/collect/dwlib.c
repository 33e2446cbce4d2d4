/* dwlib.c - libdw and libelf loaded on first need (see dwlib.h). */
#define DWLIB_NO_NAMES
#include "dwlib.h"

#include <dlfcn.h>
#include <pthread.h>

struct dwlib dwlib;
static bool loaded;

static void load(void)
{
	void *h = dlopen(DWLIB_SONAME, RTLD_NOW | RTLD_LOCAL);
	if (!h)
		return;
	struct dwlib d;
	/* dlsym on libdw's handle finds libelf's functions too: it is libdw's dependency. */
#define DWLIB_RESOLVE(f)                                  \
	if (!(d.f = (__typeof__(d.f))dlsym(h, #f))) { \
		dlclose(h);                               \
		return;                                   \
	}
	DWLIB_FUNCTIONS(DWLIB_RESOLVE)
#undef DWLIB_RESOLVE
	d.elf_version(EV_CURRENT);
	d.offline = (Dwfl_Callbacks){
		.find_elf = d.dwfl_build_id_find_elf,
		.find_debuginfo = d.dwfl_standard_find_debuginfo,
		.section_address = d.dwfl_offline_section_address,
	};
	dwlib = d;
	loaded = true;
}

bool dwlib_load(void)
{
	static pthread_once_t once = PTHREAD_ONCE_INIT;
	pthread_once(&once, load);
	return loaded;
}
