/* SPDX-License-Identifier: MIT */
#ifndef GH_TEST_ENGINE_FX_H
#define GH_TEST_ENGINE_FX_H

/*
 * The handoff engine on the fixture host, with the simulator as the kernel
 * and faults injected through files in the fixture (ops run in forked
 * children, so faults must live where a child can see them):
 *   /fault/write      a sysfs path whose write fails with EIO
 *   /fault/hang       a sysfs path whose write is stuck until the test removes
 *                     this file (30 s at most; the timebox kills it first)
 *   /fault/module     a module whose removal fails with EAGAIN
 *   /fault/service    a unit whose stop fails (systemctl exit 1)
 *   /fault/noprobe    drivers_probe succeeds and binds nothing ("1", or for one address)
 *   /fault/unprobed   a module that loads but whose probe of 0000:01:00.0 fails
 */

#include <stdbool.h>
#include <stddef.h>

#include "fixture.h"
#include "host.h"
#include "plan.h"
#include "journal.h"
#include "run.h"

/*
 * "Answers without waiting" in these tests: the faults block for 30 s (a hung
 * write) or for ever (a held device lock), so a phase back within this bound
 * did not wait on them. Wide on purpose: CI machines are shared and slow.
 */
#define ENG_PROMPT_MS 8000

/* A 5 s deadline for every kind of step. */
extern const struct gh_deadlines eng_dl5;

/* The single-GPU fixture host, its ops the simulator's with the faults above, and nvidia-persistenced's unit file. */
struct fx *eng_host(void);
/* What "the host as it was" means: drivers, overrides, modules, console, service. */
void eng_state(struct fx *fx, char *buf, size_t size);
/* The phases as the hook runs them (lib/phase.c: lock, settle, load, run), without a watcher. */
int eng_phase(struct fx *fx, unsigned vmid, const char *name, enum gh_direction dir);
int eng_pre_start(struct fx *fx, unsigned vmid);
int eng_post_stop(struct fx *fx, unsigned vmid);
/* The index of the step doing action a on target: tests name steps, not their numbers in today's plan. */
unsigned eng_step_of(const struct gh_step *v, unsigned n, enum gh_action a, const char *target);
unsigned eng_jstep(const struct gh_journal *j, enum gh_action a, const char *target);
/* VM 111's pre-start plan on a fresh eng_host(). */
void eng_fresh_plan(struct gh_plan *p);
/* The number of steps in VM 111's pre-start plan on a fresh eng_host(). */
unsigned eng_plan_len(void);
/* A 1 s step deadline for VM 111, so a hung write is given up on quickly. */
void eng_short_deadline(struct fx *fx);
/* The hung write ends once the fault is lifted; then one recover gives everything back. */
void eng_kernel_answers_then_recover(struct fx *fx, const char *before);
/*
 * remove() stuck in the kernel holds the card's device lock, and the kernel's
 * driver_override_show() takes it: every reader sleeps until remove()
 * returns. A FIFO nobody writes blocks its readers in open() the same way.
 */
void eng_lock_held(struct fx *fx, const char *addr);
/* Runs the hook on the fixture (b, c may be NULL); returns how long it took. */
unsigned long long eng_hook_ms(struct fx *fx, struct fx_run *r, const char *a, const char *b, const char *c);
unsigned eng_text_count(const char *text, const char *what);
unsigned eng_log_count(const struct fx *fx, const char *what);
void eng_journal_text(struct fx *fx, char *buf, size_t size);

/* The plan as one line per step, "action target arg", for exact comparison. */
void eng_plan_lines(const struct gh_plan *p, char *buf, size_t size);
bool eng_has_refusal(const struct gh_plan *p, const char *needle);
bool eng_has_note(const struct gh_plan *p, const char *needle);
/* VM vmid's host and its plan for dir; the test fails on any error (the log is printed). */
void eng_load_plan(struct fx *fx, unsigned vmid, enum gh_direction dir, struct gh_host *h, struct gh_plan *p);

#endif
