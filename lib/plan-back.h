/* SPDX-License-Identifier: MIT */
#ifndef GH_PLAN_BACK_H
#define GH_PLAN_BACK_H

/*
 * The way back to the host drivers, planned from one of two sources: the
 * host as sysfs shows it (post-stop without a journal, to-host), or a
 * journal (post-stop, recover, the undo at the start of a new handoff,
 * their dry runs). Both emit the same device steps in the same order:
 * driver_override to the host driver, unbind from vfio-pci, clear
 * vfio-pci's dynamic id; the module loads and reprobes; verify each
 * function on its host driver and restore its override; reattach the
 * consoles; start the services.
 */

#include <stdbool.h>

#include "host.h"
#include "journal.h"
#include "plan.h"

/* The way back from what sysfs shows (gh_plan_build with GH_TO_HOST calls it): steps with their inverses. */
int gh_plan_back_from_host(const struct gh_host *h, struct gh_plan *p);

/*
 * The way back from a journal: for what was (or may have been) done, in this
 * order: driver_override to the host driver, unbind from vfio-pci, clear
 * vfio-pci's dynamic id; reload the modules that were unloaded (reverse
 * order); reprobe; verify each function on its host driver; restore the
 * override it had; reattach the consoles that were detached; start the
 * services that were stopped. Its steps have no inverse (it runs best
 * effort). (*undoes)[i] is the index of the journal step that plan step i
 * reverses, or -1; the caller frees it. Wedged devices and modules are left
 * alone (retry: gh_run_unwedge). On failure out is freed and *undoes unset.
 */
int gh_plan_from_journal(const struct gh_journal *j, struct gh_plan *out, int **undoes);

/* A journal step that ran, or may have (running, done, failed, wedged). */
bool gh_plan_step_started(enum gh_jstatus s);

#endif
