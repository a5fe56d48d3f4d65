/* gort/gort.h — the umbrella header: everything a gort user calls. */
#ifndef GORT_H
#define GORT_H

#define GORT_VERSION_MAJOR 0
#define GORT_VERSION_MINOR 1

#include <gort/alloc.h>
#include <gort/gc.h>
#if __has_include(<gort/stack.h>)
#include <gort/stack.h>
#endif
#include <gort/sched.h>
#include <gort/chan.h>
#include <gort/sync.h>
#include <gort/net.h>

#endif
