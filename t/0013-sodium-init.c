/* SPDX-License-Identifier: ISC */
/*
 * 0013-sodium-init: every public entry point that uses libsodium runs
 * sodium_init() itself.  Each case runs in a child process whose first
 * libkpool call is the one under test; the child then asks sodium_init(),
 * which answers 1 when the library had already been initialised.  A
 * randombytes implementation of the test's own notes any use of the RNG
 * before sodium_init() stirred it.  The parent never initialises
 * libsodium.
 */

#include <sys/wait.h>

#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <sodium.h>

#include "kpool.h"
#include "httpsig.h"
#include "tap.h"
#include "0-vectors.h"

#define NTHREADS	4

/* exit codes of a child */
#define C_OK		0	/* the call worked, libsodium initialised */
#define C_CALL		1	/* the call failed */
#define C_NOINIT	2	/* sodium_init() had not run */
#define C_EARLY		3	/* the RNG was used before sodium_init() */

static volatile int	 stirred, early;

/* The system RNG, noting whether sodium_init() has stirred it yet. */
static const char *
rng_name(void)
{
	return "0013";
}

static void
rng_stir(void)
{
	stirred = 1;
	randombytes_sysrandom_implementation.stir();
}

static uint32_t
rng_random(void)
{
	if (!stirred)
		early = 1;
	return randombytes_sysrandom_implementation.random();
}

static uint32_t
rng_uniform(const uint32_t upper)
{
	if (!stirred)
		early = 1;
	return randombytes_sysrandom_implementation.uniform(upper);
}

static void
rng_buf(void * const buf, const size_t size)
{
	if (!stirred)
		early = 1;
	randombytes_sysrandom_implementation.buf(buf, size);
}

static int
rng_close(void)
{
	return randombytes_sysrandom_implementation.close();
}

static randombytes_implementation rng = {
	rng_name, rng_random, rng_stir, rng_uniform, rng_buf, rng_close
};

static uint8_t	*vkp, *vwelcome, *vpriv;
static size_t	 vkplen, vwelcomelen, vprivlen;

static int
gen(void)
{
	struct kp_kpopts	 o;
	struct kp_kpsecrets	 sec;
	struct kp_keypackage	*kp = NULL;
	uint8_t			 seed[KP_SIGN_SEED_LEN], ref[KP_REF_LEN];
	uint8_t			*buf;
	size_t			 len;
	int			 rc;

	memset(&o, 0, sizeof(o));
	memset(seed, 0x11, sizeof(seed));
	o.identity = (const uint8_t *)"first";
	o.identity_len = 5;
	if (kp_keypackage_generate(&o, seed, &buf, &len, ref, &sec) != KP_OK)
		return C_CALL;
	sodium_memzero(&sec, sizeof(sec));
	/* nothing after the generation may initialise libsodium for it */
	if (sodium_init() != 1) {
		free(buf);
		return C_NOINIT;
	}
	rc = kp_keypackage_decode(buf, len, 0, &kp) == KP_OK &&
	    kp_keypackage_validate(kp, (uint64_t)time(NULL)) == KP_OK ?
	    C_OK : C_CALL;
	kp_keypackage_free(kp);
	free(buf);
	return rc;
}

static void *
gen_thread(void *arg)
{
	*(int *)arg = gen();
	return NULL;
}

/* The first call of each case; C_OK, C_CALL or C_NOINIT. */
static int
first_call(int which)
{
	struct kp_keypackage	*kp = NULL;
	struct kp_welcome_info	 info;
	struct kp_httpsig	 hs;
	pthread_t		 t[NTHREADS];
	uint8_t			 sk[64];
	int			 res[NTHREADS], i, rc = C_OK;

	switch (which) {
	case 0:
		return gen();
	case 1:
		for (i = 0; i < NTHREADS; i++)
			if (pthread_create(&t[i], NULL, gen_thread,
			    &res[i]) != 0)
				return C_CALL;
		for (i = 0; i < NTHREADS; i++) {
			pthread_join(t[i], NULL);
			if (res[i] != C_OK)
				rc = res[i];
		}
		return rc;
	case 2:
		memset(sk, 0x22, sizeof(sk));
		return kp_httpsig_sign("GET", "/healthz", "", NULL, 0, "alice",
		    sk, 1700000000, &hs) == KP_OK ? C_OK : C_CALL;
	case 3:
		rc = kp_keypackage_decode(vkp, vkplen, 1, &kp) == KP_OK ?
		    C_OK : C_CALL;
		kp_keypackage_free(kp);
		return rc;
	case 4:
		rc = kp_welcome_open(vwelcome, vwelcomelen, vkp, vkplen, vpriv,
		    NULL, 0, KP_WELCOME_ANY_LIFETIME, &info) == KP_OK ? C_OK :
		    C_CALL;
		kp_welcome_info_free(&info);
		return rc;
	}
	return C_CALL;
}

static void
child_case(int which, const char *what)
{
	pid_t	pid;
	int	st, code;

	if ((pid = fork()) == -1)
		bail("fork");
	if (pid == 0) {
		if (randombytes_set_implementation(&rng) != 0)
			_exit(C_CALL);
		code = first_call(which);
		if (code == C_OK && early)
			code = C_EARLY;
		if (code == C_OK && sodium_init() != 1 && which > 1)
			code = C_NOINIT;
		_exit(code);
	}
	if (waitpid(pid, &st, 0) != pid)
		bail("waitpid");
	code = WIFEXITED(st) ? WEXITSTATUS(st) : 100 + WTERMSIG(st);
	is_int(code, C_OK, "%s first: works, libsodium initialised before use "
	    "(1 failed, 2 not initialised, 3 RNG used first)",
	    what);
}

int
main(void)
{
	json_t	*root, *v;

	/* the first passive Welcome: its tree inside, no PSK */
	root = vec_load("passive-client-welcome.json");
	v = json_array_get(root, 0);
	vkp = hexf(v, "key_package", &vkplen);
	vwelcome = hexf(v, "welcome", &vwelcomelen);
	vpriv = hexf(v, "init_priv", &vprivlen);
	json_decref(root);

	child_case(0, "kp_keypackage_generate");
	child_case(1, "kp_keypackage_generate in 4 threads at once");
	child_case(2, "kp_httpsig_sign");
	child_case(3, "kp_keypackage_decode");
	child_case(4, "kp_welcome_open");
	is_int(sodium_init(), 0, "the parent had not initialised libsodium");
	free(vkp);
	free(vwelcome);
	free(vpriv);
	return done_testing();
}
