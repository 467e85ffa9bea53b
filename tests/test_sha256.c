/*
 * test_sha256.c -- SHA-256 against FIPS 180-4 vectors and the padding
 * boundaries, in one piece and byte by byte, and over a file descriptor.
 */
#include <sys/types.h>

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "meshtuned.h"

static void
digest(const void *p, size_t len, size_t chunk, char hex[SHA256_HEXLEN])
{
	struct sha256	 s;
	uint8_t		 md[SHA256_LEN];
	const uint8_t	*b = p;
	size_t		 n;

	sha256_init(&s);
	while (len > 0) {
		n = chunk < len ? chunk : len;
		sha256_update(&s, b, n);
		b += n;
		len -= n;
	}
	sha256_final(&s, md);
	sha256_hex(md, hex);
}

static void
check(const void *p, size_t len, const char *want)
{
	static const size_t	 chunks[] = { 1, 3, 63, 64, 65, 1000000 };
	char			 hex[SHA256_HEXLEN];
	size_t			 i;

	for (i = 0; i < nitems(chunks); i++) {
		digest(p, len, chunks[i], hex);
		assert_string_equal(hex, want);
	}
}

static void
test_fips_vectors(void **state)
{
	(void)state;
	check("", 0,
	    "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
	check("abc", 3,
	    "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
	check("abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq", 56,
	    "248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1");
}

static void
test_million_a(void **state)
{
	char	*p;

	(void)state;
	p = xmalloc(1000000);
	memset(p, 'a', 1000000);
	check(p, 1000000,
	    "cdc76e5c9914fb9281a1c7e284d73e67f1809a48a497200e046d39ccc7112cd0");
	free(p);
}

/* Lengths around the 55/56 and 64-byte padding boundaries. */
static void
test_boundaries(void **state)
{
	static const struct {
		size_t		 len;
		const char	*hex;
	} v[] = {
	{ 55, "d5e285683cd4efc02d021a5c62014694958901005d6f71e89e0989fac77e4072" },
	{ 56, "04c26261370ee7541549d16dee320c723e3fd14671e66a099afe0a377c16888e" },
	{ 63, "75220b47218278e656f2013bb8f0c455a25eaf01e86c64924e9d48d89776d6f2" },
	{ 64, "7ce100971f64e7001e8fe5a51973ecdfe1ced42befe7ee8d5fd6219506b5393c" },
	{ 65, "9537c5fdf120482f7d58d25e9ed583f52c02b4e304ea814db1633ad565aed7e9" },
	{ 119, "000b48d4edf0fa7bee3c6236ecd2785baa5db4eeb8bb54341b029e0d9fa5fb0c" },
	{ 120, "13f05a0b594787f5ecd315edc96141bd3243203d1b7d4f0836f37308b276ba98" },
	};
	char	buf[128];
	size_t	i;

	(void)state;
	memset(buf, 'x', sizeof(buf));
	for (i = 0; i < nitems(v); i++)
		check(buf, v[i].len, v[i].hex);
}

static void
test_fd(void **state)
{
	char	path[] = "/tmp/test_sha256.XXXXXX", hex[SHA256_HEXLEN];
	int	fd;

	(void)state;
	fd = mkstemp(path);
	assert_true(fd != -1);
	unlink(path);
	assert_int_equal(write(fd, "abc", 3), 3);
	assert_int_equal(lseek(fd, 0, SEEK_SET), 0);
	assert_int_equal(sha256_fd(fd, hex), 0);
	assert_string_equal(hex,
	    "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
	close(fd);
	assert_int_equal(sha256_fd(fd, hex), -1);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_fips_vectors),
		cmocka_unit_test(test_million_a),
		cmocka_unit_test(test_boundaries),
		cmocka_unit_test(test_fd),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
