# config.mk: build settings for pageturn; override on the make command line.
PREFIX    ?= /usr/local
MANPREFIX ?= $(PREFIX)/share/man
SHAREDIR  ?= $(PREFIX)/share/pageturn
DESTDIR   ?=
# The project version; -V also says the build, git describe of the tree (the version outside one).
VERSION   = 0.1

CC       ?= cc
PKGS      = rdkafka jansson zlib hiredis
HTTP_PKGS = libmicrohttpd

OPT      ?= -O2 -g
CFLAGS_W  = -std=c11 -Wall -Wextra -Werror -Wshadow -Wno-unused-parameter
CPPFLAGS += -D_GNU_SOURCE -Icommon

ifeq ($(SANITIZE),1)
OPT      = -O1 -g -fno-omit-frame-pointer
SANFLAGS = -fsanitize=address,undefined -fno-sanitize-recover=undefined
endif
