/* SPDX-License-Identifier: ISC */
/* config.c: the server's settings, with their defaults (see kps.h). */

#include "kps.h"

struct kps_config kps_conf = {
	.listen = "127.0.0.1:8420",
	.reservation_ttl = 60,
	.max_lifetime = 90 * 86400,
	.expired_retention = 86400,
	.registration_open = 1,
	.register_rate = 5,
	.rate_per_min = 600,
	.rate_burst = 8,	/* lib's low watermark */
	.stranger_share = 25,
	.contact_floor = 8,
	.caller_cap = 32,
	.threads = 4,
	.max_connections = 1024,
	.max_per_address = 128,
	.request_deadline = 30,
};
