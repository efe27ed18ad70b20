/* iam.h - what IAM and the metadata service answer, as the paging core
 * reads it: the project of a region (project-id discovery), a password
 * login's token, temporary AK/SK; and the login's JSON body. */
#ifndef ME_IAM_H
#define ME_IAM_H

#include <lua.h>
#include <stddef.h>

/* The parts of a response these decoders read. */
typedef struct me_iam_response {
    long status;
    const char *body;
    size_t len;
    const char *request_id;
    const char *subject_token;   /* X-Subject-Token, NULL when absent */
} me_iam_response;

/* `GET /v3/projects?name=REGION`: push the one project's id and return 1;
 * else push an error object and return 0 (IAM's own error; none or several
 * projects: invalid_argument naming the region). `decoder` is the stack
 * index of cjson.safe's decode function. */
int me_iam_decode_projects(lua_State *L, int decoder, const me_iam_response *r,
                           const char *region);

/* `POST /v3/auth/tokens`: push { token, expires_at (epoch ms), project_id? }
 * and return 1, or push an error object and return 0. */
int me_iam_decode_token(lua_State *L, int decoder, const me_iam_response *r);

/* `GET /openstack/latest/securitykey`: push { ak, sk, security_token,
 * expires_at (epoch ms) } and return 1, or push an error object and
 * return 0. */
int me_iam_decode_securitykey(lua_State *L, int decoder, const me_iam_response *r);

/* Push the JSON body of a password login from the options table at idx
 * (domain, user, password; project_id or project, else region as the
 * project name, else no scope), encoded by lua-cjson. Raises an
 * invalid_argument error naming a missing or wrong field; never shows the
 * password. */
void me_iam_push_login_body(lua_State *L, int idx);

#endif
