/* fuzz-pprof.c - libFuzzer target for the snapshot decoder.
 *
 * Feeds the input to pprof_decode as an uncompressed profile; when it decodes, the
 * profile is encoded again and that encoding must decode too, so the fuzzer also
 * checks that whatever the decoder accepts the encoder can write.  Input that starts
 * with the gzip magic goes through pprof_gunzip first (with a 16 MiB limit).  Seeds
 * live in tests/fuzz-corpus/.
 */
#include <errno.h>
#include <stdint.h>
#include <stdlib.h>

#include "pprof.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	profile_t *p = NULL;
	pprof_error_t err = { .why = "" };
	uint8_t *raw = NULL;
	size_t raw_len;
	if (size >= 2 && data[0] == 0x1f && data[1] == 0x8b) {
		int rc = pprof_gunzip(data, size, 16u << 20, &raw, &raw_len, &err);
		if (rc == -EINVAL && !err.why[0])
			abort();
		if (rc != 0)
			return 0;
		data = raw;
		size = raw_len;
	}
	int rc = pprof_decode(data, size, &p, &err);
	free(raw);
	if (rc == -EINVAL && !err.why[0])
		abort(); /* every rejection says why */
	if (rc != 0)
		return 0;
	uint8_t *buf;
	size_t len;
	if (pprof_encode(p, &buf, &len) == 0) {
		profile_t *q = NULL;
		if (pprof_decode(buf, len, &q, &err) != 0)
			abort(); /* our own output must read back */
		profile_free(q);
		free(buf);
	}
	profile_free(p);
	return 0;
}
