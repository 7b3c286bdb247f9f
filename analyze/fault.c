/* Fault injection (see fault.h). */
#include "fault.h"

#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static pthread_once_t once = PTHREAD_ONCE_INIT;
static char fault_point[64];
static long fault_after; /* 0: no fault configured */
static atomic_long fault_calls;

static void parse(const char *v) {
  const char *colon = v ? strchr(v, ':') : NULL;
  fault_after = 0;
  atomic_store(&fault_calls, 0);
  if (!colon || (size_t)(colon - v) >= sizeof fault_point)
    return;
  memcpy(fault_point, v, (size_t)(colon - v));
  fault_point[colon - v] = '\0';
  fault_after = strtol(colon + 1, NULL, 10);
}

static void read_env(void) {
  parse(getenv("BSL_FAIL_ALLOC"));
}

void bsl_fault_configure(const char *spec) {
  pthread_once(&once, read_env);
  parse(spec);
}

bool bsl_fault(const char *point) {
  pthread_once(&once, read_env);
  if (fault_after <= 0 || strcmp(point, fault_point) != 0)
    return false;
  return atomic_fetch_add(&fault_calls, 1) + 1 >= fault_after;
}
