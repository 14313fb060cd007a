/* SPDX-License-Identifier: ISC */
/*
 * policy.h: the pool policy's checks, its "key = value" text and its
 * place among the store's settings (lib/policy.c), internal to
 * libkpool.
 */
#ifndef KP_POLICY_H
#define KP_POLICY_H

#include <stddef.h>

#include "kpool.h"
#include "store.h"

/* Longest value of a setting, bytes (a list of 64 types). */
#define KP_POLICY_VALUE_MAX	512

/* kp_policy_check: KP_OK, or KP_EINVAL with the reason in err. */
int	kp_policy_check(const struct kp_policy *p, char *err,
	    size_t errlen) KP_WUR;
/* kp_policy_load: the stored policy, defaults for what is not stored. */
int	kp_policy_load(struct kp_store *st, struct kp_policy *out) KP_WUR;
/* kp_policy_save: store every setting of in (already checked). */
int	kp_policy_save(struct kp_store *st, const struct kp_policy *in) KP_WUR;
/*
 * kp_policy_parse_set: set key to value in p, then check the whole
 * policy; KP_EINVAL with the reason in err.
 */
int	kp_policy_parse_set(struct kp_policy *p, const char *key,
	    const char *value, char *err, size_t errlen) KP_WUR;
/* kp_policy_text: p as "key = value\n" lines, malloc'd into *text. */
int	kp_policy_text(const struct kp_policy *p, char **text) KP_WUR;

/*
 * kp_policy_kpopts: the options of a new key of suite under p (its
 * capabilities); identity, lifetime and last_resort are the caller's.
 */
void	kp_policy_kpopts(const struct kp_policy *p, uint16_t suite,
	    struct kp_kpopts *o);

#endif /* KP_POLICY_H */
