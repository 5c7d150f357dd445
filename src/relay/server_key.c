/*
 * Reading the server's public key (see server_key.h).
 */
#include "server_key.h"

#include <ctype.h>
#include <string.h>

int server_key_parse(const unsigned char *buf, size_t len, unsigned char pk[crypto_sign_PUBLICKEYBYTES])
{
	if (len == crypto_sign_PUBLICKEYBYTES) {
		memcpy(pk, buf, len);
		return 0;
	}
	while (len && isspace(buf[len - 1]))
		len--;
	while (len && isspace(buf[0]))
		buf++, len--;
	static const int variants[] = {sodium_base64_VARIANT_ORIGINAL, sodium_base64_VARIANT_ORIGINAL_NO_PADDING,
	                               sodium_base64_VARIANT_URLSAFE, sodium_base64_VARIANT_URLSAFE_NO_PADDING};
	for (size_t i = 0; i < sizeof variants / sizeof *variants; i++) {
		size_t got;
		const char *end;
		if (sodium_base642bin(pk, crypto_sign_PUBLICKEYBYTES, (const char *)buf, len, NULL, &got, &end,
		                      variants[i]) == 0 &&
		    end == (const char *)buf + len && got == crypto_sign_PUBLICKEYBYTES)
			return 0;
	}
	return -1;
}
