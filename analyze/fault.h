/*
 * Fault injection for tests: an allocation failure at a chosen place, so
 * that the out-of-memory paths (which must never commit a read position
 * past a line whose effects were lost) are exercised deterministically.
 *
 * BSL_FAIL_ALLOC=POINT:N in the environment makes the Nth call of
 * bsl_fault(POINT) return true, and every later one too (memory that ran
 * out stays out).  Unset, bsl_fault() is one branch on a cached flag.
 * Besides allocations, two points kill the process at the Nth commit that
 * saves a day salt (changeset.c): "crash-after-salts" once its salts are
 * saved, "crash-after-commit" once its transaction is committed.
 */
#ifndef BSL_FAULT_H
#define BSL_FAULT_H

#include <stdbool.h>

/* Replaces what BSL_FAIL_ALLOC said with SPEC ("POINT:N", NULL: no
 * fault), counting from zero again.  For unit tests, single-threaded. */
void bsl_fault_configure(const char *spec);

/* True when the allocation at POINT must fail now.  Points: "visit" (a
 * visit of the model), "changeset" (a changeset's buffers growing). */
bool bsl_fault(const char *point);

#endif
