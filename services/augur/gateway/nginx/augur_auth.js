// API-key check of the Augur gateway, run inside nginx (njs) on every routed call.
//
// nginx looks the token's key id up in the key map the gateway writes from Redis
// ($augur_key_record: "<salt hex> <sha256 hex> <scopes> <revoked 0|1>"); this module checks
// SHA-256(salt + secret) against it in constant time, then the key's scopes against the RPC.
// The rule is the one of services/augur/gateway/keys.py (`allows`); the admin-only RPCs come from
// $augur_admin_rpcs, which the gateway renders from keys.ADMIN_RPCS.
import crypto from 'crypto';

var TOKEN = /^ak_([0-9a-f]{12})\.([A-Za-z0-9_-]{20,128})$/;
var GRPC_PATH = /^\/augur\.([a-z]+)\.v1\.[A-Za-z]+\/([A-Za-z]+)$/;
var REST_PATH = /^\/v1\/([a-z]+)\/([A-Za-z]+)$/;
var decided = null; // njs gives every request its own VM: this is per request

function tokenOf(r) {
    var key = r.headersIn['X-Api-Key'];
    if (key) {
        return key;
    }
    var m = /^bearer\s+(\S+)$/i.exec(r.headersIn['Authorization'] || '');
    return m ? m[1] : '';
}

function sameText(a, b) {
    var diff = a.length ^ b.length;
    for (var i = 0; i < a.length && i < b.length; i++) {
        diff |= a.charCodeAt(i) ^ b.charCodeAt(i);
    }
    return diff === 0;
}

function allows(scopes, rpc, admin) {
    if (scopes.indexOf('admin') >= 0) {
        return true;
    }
    if (admin.indexOf(rpc) >= 0) {
        return false;
    }
    return scopes.indexOf(rpc.split('.')[0]) >= 0 || scopes.indexOf(rpc) >= 0;
}

function verdict(status, key, message) {
    decided = {status: status, key: key, message: message};
    return decided;
}

function decide(r) {
    if (decided !== null) {
        return decided;
    }
    var token = tokenOf(r);
    if (!token) {
        return verdict('unauthenticated', '', "an API key is required: send 'x-api-key: " +
            "ak_<id>.<secret>' (or 'authorization: Bearer ak_<id>.<secret>')");
    }
    var t = TOKEN.exec(token);
    if (t === null) {
        return verdict('unauthenticated', '', 'malformed API key (expected ak_<id>.<secret>)');
    }
    var record = (r.variables.augur_key_record || '').split(' ');
    if (record.length < 4) {
        return verdict('unauthenticated', '', 'unknown API key');
    }
    var digest = crypto.createHash('sha256').update(Buffer.from(record[0], 'hex'))
        .update(t[2]).digest('hex');
    if (!sameText(digest, record[1])) {
        return verdict('unauthenticated', '', 'invalid API key');
    }
    if (record[3] === '1') {
        return verdict('unauthenticated', '', 'API key ' + t[1] + ' has been revoked');
    }
    var path = GRPC_PATH.exec(r.uri) || REST_PATH.exec(r.uri);
    if (path === null) {
        return verdict('denied', t[1], r.uri + ' is not an Augur RPC');
    }
    var rpc = path[1] + '.' + path[2];
    var admin = (r.variables.augur_admin_rpcs || '').split(',');
    if (!allows(record[2].split(','), rpc, admin)) {
        var needed = admin.indexOf(rpc) >= 0 ? 'admin' : path[1] + ' or ' + rpc;
        return verdict('denied', t[1], 'API key ' + t[1] + ' may not call ' + rpc +
            ': it needs scope ' + needed);
    }
    return verdict('ok', t[1], '');
}

function status(r) {
    return decide(r).status;
}

function key(r) {
    return decide(r).key;
}

function message(r) {
    return decide(r).message;
}

export default {status, key, message};
