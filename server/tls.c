/* SPDX-License-Identifier: ISC */
/*
 * tls.c: the certificate and private key kpool-server serves HTTPS with
 * (--tls-cert, --tls-key).  Both files are read once, at start, and
 * checked before libmicrohttpd (GnuTLS) gets them: the certificate file
 * holds at least one certificate in PEM (the server's, then its chain),
 * the key file an unencrypted private key in PEM that no user but the
 * file's owner and group may read or write (like ssh's keys; Debian's
 * ssl-cert group keeps keys 0640), and the key is the certificate's.
 * OpenSSL's libcrypto, which the library links anyway, does the checks;
 * GnuTLS in libmicrohttpd reads the same PEM again.  The key's text is
 * wiped once libmicrohttpd has parsed it.
 */

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <openssl/bio.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/x509.h>
#include <sodium.h>

#include "kps.h"

#define MAX_PEM	(256 * 1024)	/* bytes of a certificate chain or key */

static char	*cert_pem;	/* main thread: load, wipe */
static char	*key_pem;
static size_t	 key_cap;	/* bytes of key_pem, for the wipe */

/*
 * slurp: the whole of path (at most MAX_PEM bytes), NUL-terminated, in
 * *out (its buffer's size in *cap); with secret, a file any other user
 * may read or write is refused.  0, or -1 with why in err.
 */
static int
slurp(const char *path, const char *what, int secret, char **out,
    size_t *cap, char *err, size_t errlen)
{
	struct stat	 sb;
	char		*buf = NULL;
	size_t		 len = 0;
	ssize_t		 n;
	int		 fd;

	*out = NULL;
	if ((fd = open(path, O_RDONLY | O_CLOEXEC)) == -1) {
		snprintf(err, errlen, "%s %s: %s", what, path,
		    strerror(errno));
		return -1;
	}
	if (fstat(fd, &sb) != 0 || !S_ISREG(sb.st_mode)) {
		snprintf(err, errlen, "%s %s: not a regular file", what, path);
		goto fail;
	}
	if (secret && (sb.st_mode & (S_IROTH | S_IWOTH)) != 0) {
		snprintf(err, errlen, "%s %s: other users may read or write "
		    "it (mode %03o); chmod o-rw it", what, path,
		    (unsigned)(sb.st_mode & 0777));
		goto fail;
	}
	if (sb.st_size <= 0 || sb.st_size > MAX_PEM) {
		snprintf(err, errlen, "%s %s: empty, or larger than %d bytes",
		    what, path, MAX_PEM);
		goto fail;
	}
	*cap = (size_t)sb.st_size + 1;
	if ((buf = malloc(*cap)) == NULL) {
		snprintf(err, errlen, "out of memory");
		goto fail;
	}
	while (len < *cap - 1 && (n = read(fd, buf + len, *cap - 1 - len)) !=
	    0) {
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			snprintf(err, errlen, "%s %s: %s", what, path,
			    strerror(errno));
			goto fail;
		}
		len += (size_t)n;
	}
	buf[len] = '\0';
	close(fd);
	*out = buf;
	return 0;
fail:
	if (buf != NULL) {
		sodium_memzero(buf, *cap);
		free(buf);
	}
	close(fd);
	return -1;
}

/* no_password: OpenSSL's password callback: an encrypted key is
 * refused rather than asked for. */
static int
no_password(char *buf, int size, int rwflag, void *u)
{
	return -1;
}

/* check: the first certificate of cert_pem and the key of key_pem
 * parse and belong together; 0, or -1 with why in err. */
static int
check(const char *cert, const char *key, char *err, size_t errlen)
{
	BIO		*b = NULL;
	X509		*x = NULL;
	EVP_PKEY	*k = NULL;
	int		 rc = -1;

	if ((b = BIO_new_mem_buf(cert_pem, -1)) == NULL ||
	    (x = PEM_read_bio_X509(b, NULL, no_password, NULL)) == NULL) {
		snprintf(err, errlen, "--tls-cert %s: no certificate in PEM",
		    cert);
		goto out;
	}
	BIO_free(b);
	if ((b = BIO_new_mem_buf(key_pem, -1)) == NULL ||
	    (k = PEM_read_bio_PrivateKey(b, NULL, no_password,
	    NULL)) == NULL) {
		snprintf(err, errlen, "--tls-key %s: no unencrypted private "
		    "key in PEM", key);
		goto out;
	}
	if (X509_check_private_key(x, k) != 1) {
		snprintf(err, errlen, "--tls-key %s is not the key of the "
		    "certificate in %s", key, cert);
		goto out;
	}
	if (X509_cmp_current_time(X509_get0_notAfter(x)) < 0)
		fprintf(stderr, "kpool-server: warning: the certificate in "
		    "%s has expired\n", cert);
	rc = 0;
out:
	ERR_clear_error();
	EVP_PKEY_free(k);
	X509_free(x);
	BIO_free(b);
	return rc;
}

int
kps_tls_load(const char *cert, const char *key, char *err, size_t errlen)
{
	size_t	cap;

	if (slurp(cert, "--tls-cert", 0, &cert_pem, &cap, err, errlen) != 0 ||
	    slurp(key, "--tls-key", 1, &key_pem, &key_cap, err, errlen) != 0 ||
	    check(cert, key, err, errlen) != 0) {
		kps_tls_wipe();
		return -1;
	}
	return 0;
}

const char *
kps_tls_cert(void)
{
	return cert_pem;
}

const char *
kps_tls_key(void)
{
	return key_pem;
}

void
kps_tls_wipe(void)
{
	if (key_pem != NULL) {
		sodium_memzero(key_pem, key_cap);
		free(key_pem);
	}
	free(cert_pem);
	key_pem = cert_pem = NULL;
	key_cap = 0;
}
