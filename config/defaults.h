/* The shipped default files, embedded at build time (config/embed.cmake). */
#ifndef BSL_DEFAULTS_H
#define BSL_DEFAULTS_H

extern const char bsl_default_bots_rules[];
extern const char bsl_default_channels_rules[];
extern const char bsl_default_boussole_conf[];

#endif
