/*
 * nh_version.h: notifyhub's version, written here and nowhere else.
 *
 * The binding exports it as core.version (notifyhub._VERSION is
 * "notifyhub " .. core.version); the core sends NH_USER_AGENT when
 * http.user_agent is not set. The rockspec's file name and version field
 * cannot be generated (LuaRocks reads them before anything is built):
 * spec/version_spec.lua fails when they say another version.
 */
#ifndef NH_VERSION_H
#define NH_VERSION_H

#define NH_VERSION "0.1.0"
#define NH_USER_AGENT "notifyhub/" NH_VERSION

#endif
