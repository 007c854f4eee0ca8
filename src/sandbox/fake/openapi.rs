//! Validates JSON request bodies against the requestBody schemas of Discord's OpenAPI 3.1
//! description, with a small validator for the subset of JSON Schema the file uses.
//!
//! The 1.2 MB file is parsed and indexed once per process and path (`OnceLock`), because every
//! fake in a test binary shares it.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, Once, OnceLock};

use anyhow::Context as _;
use serde_json::{Map, Value};

const ENV_VAR: &str = "ATTUNE_DISCORD_OPENAPI";
const RELATIVE: &str = "../shared/discord/openapi.json";
/// Deeper than any schema in the file; guards against a `$ref` cycle meeting a cyclic body.
const MAX_DEPTH: usize = 64;

pub(super) fn default_spec_path() -> Option<PathBuf> {
    if let Some(p) = std::env::var_os(ENV_VAR).filter(|p| !p.is_empty()) {
        let p = PathBuf::from(p);
        if p.is_file() {
            return Some(p);
        }
        tracing::warn!(target: "fake_discord", "{ENV_VAR}={} is not a file", p.display());
    }
    let candidates = [
        PathBuf::from(".").join(RELATIVE),
        Path::new(env!("CARGO_MANIFEST_DIR")).join(RELATIVE),
    ];
    candidates.into_iter().find(|p| p.is_file())
}

pub(super) fn warn_missing_once() {
    static WARNED: Once = Once::new();
    WARNED.call_once(|| {
        tracing::warn!(
            target: "fake_discord",
            "Discord's openapi.json not found (set {ENV_VAR}); only the hand-written limit checks run"
        );
    });
}

pub(super) fn load(path: &Path) -> anyhow::Result<Arc<Spec>> {
    static CACHE: OnceLock<Mutex<HashMap<PathBuf, Arc<Spec>>>> = OnceLock::new();
    let cache = CACHE.get_or_init(Default::default);
    let key = path.canonicalize().unwrap_or_else(|_| path.to_path_buf());
    if let Some(spec) = cache.lock().unwrap_or_else(|e| e.into_inner()).get(&key) {
        return Ok(spec.clone());
    }
    let text = std::fs::read(path)
        .with_context(|| format!("reading Discord's OpenAPI description {}", path.display()))?;
    let root: Value =
        serde_json::from_slice(&text).with_context(|| format!("parsing {}", path.display()))?;
    let spec = Arc::new(Spec::index(root));
    cache
        .lock()
        .unwrap_or_else(|e| e.into_inner())
        .insert(key, spec.clone());
    Ok(spec)
}

enum Seg {
    Lit(String),
    Param,
}

struct Route {
    template: String,
    segs: Vec<Seg>,
    /// Lower-case method → the application/json request body schema.
    bodies: HashMap<String, Value>,
}

pub(super) struct Spec {
    schemas: Map<String, Value>,
    routes: Vec<Route>,
}

impl Spec {
    fn index(mut root: Value) -> Spec {
        let schemas = match root.pointer_mut("/components/schemas").map(Value::take) {
            Some(Value::Object(m)) => m,
            _ => Map::new(),
        };
        let mut routes = Vec::new();
        if let Some(paths) = root.get("paths").and_then(Value::as_object) {
            for (template, item) in paths {
                let segs = template
                    .trim_start_matches('/')
                    .split('/')
                    .map(|s| {
                        if s.starts_with('{') && s.ends_with('}') {
                            Seg::Param
                        } else {
                            Seg::Lit(s.to_string())
                        }
                    })
                    .collect();
                let mut bodies = HashMap::new();
                if let Some(ops) = item.as_object() {
                    for (method, op) in ops {
                        if let Some(schema) =
                            op.pointer("/requestBody/content/application~1json/schema")
                        {
                            bodies.insert(method.to_ascii_lowercase(), schema.clone());
                        }
                    }
                }
                routes.push(Route {
                    template: template.clone(),
                    segs,
                    bodies,
                });
            }
        }
        Spec { schemas, routes }
    }

    /// The best-matching path template: literal segments beat parameters
    /// (`/messages/@original` over `/messages/{message_id}`).
    fn find_route(&self, path: &str) -> Option<&Route> {
        let parts: Vec<&str> = path.trim_start_matches('/').split('/').collect();
        self.routes
            .iter()
            .filter(|r| r.segs.len() == parts.len())
            .filter_map(|r| {
                let mut literal = 0;
                for (seg, part) in r.segs.iter().zip(&parts) {
                    match seg {
                        Seg::Lit(l) if l == part => literal += 1,
                        Seg::Lit(_) => return None,
                        Seg::Param => {}
                    }
                }
                Some((literal, r))
            })
            .max_by_key(|(literal, _)| *literal)
            .map(|(_, r)| r)
    }

    /// Problems with `body` for `method path` (path without `/api/v10`); empty when valid or
    /// when the spec has no JSON body schema for the route.
    pub fn validate_request(&self, method: &str, path: &str, body: &Value) -> Vec<String> {
        let Some(route) = self.find_route(path) else {
            return Vec::new();
        };
        let Some(schema) = route.bodies.get(&method.to_ascii_lowercase()) else {
            return Vec::new();
        };
        let mut errs = Vec::new();
        self.check(schema, body, "$", &mut errs, 0);
        errs.into_iter()
            .map(|e| format!("{} {}: {e}", method.to_ascii_uppercase(), route.template))
            .collect()
    }

    fn resolve<'a>(&'a self, reference: &str) -> Option<&'a Value> {
        reference
            .strip_prefix("#/components/schemas/")
            .and_then(|name| self.schemas.get(name))
    }

    fn check(&self, schema: &Value, v: &Value, at: &str, errs: &mut Vec<String>, depth: usize) {
        if depth > MAX_DEPTH {
            return;
        }
        let s = match schema {
            Value::Bool(false) => {
                errs.push(format!("{at}: not allowed"));
                return;
            }
            Value::Object(s) => s,
            _ => return,
        };
        if known_deviation(s, v, at) {
            return;
        }
        if let Some(r) = s.get("$ref").and_then(Value::as_str) {
            match self.resolve(r) {
                Some(target) => self.check(target, v, at, errs, depth + 1),
                None => errs.push(format!("{at}: unresolvable $ref {r}")),
            }
        }
        if let Some(t) = s.get("type") {
            if !type_matches(t, v) {
                errs.push(format!("{at}: expected type {t}, got {}", describe(v)));
                // Further keywords would only repeat the same mistake.
                return;
            }
        }
        if let Some(list) = s.get("enum").and_then(Value::as_array) {
            if !list.iter().any(|e| json_eq(e, v)) {
                errs.push(format!(
                    "{at}: {} is not one of {}",
                    short(v),
                    Value::Array(list.clone())
                ));
            }
        }
        if let Some(c) = s.get("const") {
            if !json_eq(c, v) {
                errs.push(format!("{at}: {} is not {c}", short(v)));
            }
        }
        match v {
            Value::String(text) => self.check_string(s, text, at, errs),
            Value::Number(_) => check_number(s, v, at, errs),
            Value::Array(items) => self.check_array(s, items, at, errs, depth),
            Value::Object(obj) => self.check_object(s, obj, at, errs, depth),
            _ => {}
        }
        if let Some(all) = s.get("allOf").and_then(Value::as_array) {
            for sub in all {
                self.check(sub, v, at, errs, depth + 1);
            }
        }
        if let Some(any) = s.get("anyOf").and_then(Value::as_array) {
            self.check_alternatives(any, v, at, errs, depth, false);
        }
        if let Some(one) = s.get("oneOf").and_then(Value::as_array) {
            self.check_alternatives(one, v, at, errs, depth, true);
        }
    }

    fn check_alternatives(
        &self,
        alts: &[Value],
        v: &Value,
        at: &str,
        errs: &mut Vec<String>,
        depth: usize,
        exactly_one: bool,
    ) {
        let mut matched = Vec::new();
        let mut best: Option<(usize, Vec<String>)> = None;
        for (i, alt) in alts.iter().enumerate() {
            if self.quick_reject(alt, v) {
                continue;
            }
            let mut sub = Vec::new();
            self.check(alt, v, at, &mut sub, depth + 1);
            if sub.is_empty() {
                matched.push(i);
                if !exactly_one {
                    return;
                }
            } else if best.as_ref().is_none_or(|(_, b)| sub.len() < b.len()) {
                best = Some((i, sub));
            }
        }
        let kind = if exactly_one { "oneOf" } else { "anyOf" };
        match matched.len() {
            0 => {
                let names: Vec<String> = alts.iter().map(alt_name).collect();
                let why = match best {
                    Some((i, closest)) => {
                        format!("closest {}: {}", alt_name(&alts[i]), closest.join("; "))
                    }
                    None => format!("{} has the wrong type or discriminator", short(v)),
                };
                errs.push(format!(
                    "{at}: matches none of {kind} [{}]; {why}",
                    names.join(", ")
                ));
            }
            1 => {}
            n => errs.push(format!(
                "{at}: matches {n} alternatives of oneOf ({})",
                matched
                    .iter()
                    .map(|&i| alt_name(&alts[i]))
                    .collect::<Vec<_>>()
                    .join(", ")
            )),
        }
    }

    /// Cheap pre-filter for alternatives: a wrong JSON type, or a `type` discriminator (the
    /// component and option unions all have one) outside the branch's `enum`. Cuts the cost of
    /// a message with components several times over.
    fn quick_reject(&self, alt: &Value, v: &Value) -> bool {
        let mut schema = alt;
        for _ in 0..4 {
            match schema.get("$ref").and_then(Value::as_str) {
                Some(r) => match self.resolve(r) {
                    Some(target) => schema = target,
                    None => return false,
                },
                None => break,
            }
        }
        if let Some(t) = schema.get("type") {
            if !type_matches(t, v) {
                return true;
            }
        }
        let (Some(kind), Some(allowed)) = (
            v.get("type"),
            schema
                .pointer("/properties/type/enum")
                .and_then(Value::as_array),
        ) else {
            return false;
        };
        !allowed.iter().any(|a| json_eq(a, kind))
    }

    fn check_string(&self, s: &Map<String, Value>, text: &str, at: &str, errs: &mut Vec<String>) {
        let n = text.chars().count() as u64;
        if let Some(min) = s.get("minLength").and_then(Value::as_u64) {
            if n < min {
                errs.push(format!("{at}: string of {n} chars, minLength {min}"));
            }
        }
        if let Some(max) = s.get("maxLength").and_then(Value::as_u64) {
            if n > max {
                errs.push(format!("{at}: string of {n} chars, maxLength {max}"));
            }
        }
        if let Some(p) = s.get("pattern").and_then(Value::as_str) {
            if let Some(false) = known_pattern(p, text) {
                errs.push(format!("{at}: \"{}\" does not match {p}", truncate(text)));
            }
        }
    }

    fn check_array(
        &self,
        s: &Map<String, Value>,
        items: &[Value],
        at: &str,
        errs: &mut Vec<String>,
        depth: usize,
    ) {
        let n = items.len() as u64;
        if let Some(min) = s.get("minItems").and_then(Value::as_u64) {
            if n < min {
                errs.push(format!("{at}: {n} items, minItems {min}"));
            }
        }
        if let Some(max) = s.get("maxItems").and_then(Value::as_u64) {
            if n > max {
                errs.push(format!("{at}: {n} items, maxItems {max}"));
            }
        }
        if s.get("uniqueItems").and_then(Value::as_bool) == Some(true) {
            for (i, a) in items.iter().enumerate() {
                if items[..i].iter().any(|b| json_eq(a, b)) {
                    errs.push(format!("{at}[{i}]: duplicate item {}", short(a)));
                }
            }
        }
        if let Some(item_schema) = s.get("items") {
            for (i, item) in items.iter().enumerate() {
                self.check(item_schema, item, &format!("{at}[{i}]"), errs, depth + 1);
            }
        }
    }

    fn check_object(
        &self,
        s: &Map<String, Value>,
        obj: &Map<String, Value>,
        at: &str,
        errs: &mut Vec<String>,
        depth: usize,
    ) {
        if let Some(req) = s.get("required").and_then(Value::as_array) {
            for key in req.iter().filter_map(Value::as_str) {
                if !obj.contains_key(key) {
                    errs.push(format!("{at}: missing required property \"{key}\""));
                }
            }
        }
        let n = obj.len() as u64;
        if let Some(min) = s.get("minProperties").and_then(Value::as_u64) {
            if n < min {
                errs.push(format!("{at}: {n} properties, minProperties {min}"));
            }
        }
        if let Some(max) = s.get("maxProperties").and_then(Value::as_u64) {
            if n > max {
                errs.push(format!("{at}: {n} properties, maxProperties {max}"));
            }
        }
        let props = s.get("properties").and_then(Value::as_object);
        let additional = s.get("additionalProperties");
        for (key, value) in obj {
            let here = format!("{at}.{key}");
            match props.and_then(|p| p.get(key)) {
                Some(prop) => self.check(prop, value, &here, errs, depth + 1),
                None => {
                    if let Some(extra) = additional {
                        self.check(extra, value, &here, errs, depth + 1);
                    }
                }
            }
        }
    }
}

/// Narrow, documented exceptions where a genuine serenity 0.12.5 body disagrees with the preview
/// spec but is accepted by Discord. Each one is keyed on the exact property it concerns.
fn known_deviation(s: &Map<String, Value>, v: &Value, at: &str) -> bool {
    let is_snowflake_schema =
        s.get("$ref").and_then(Value::as_str) == Some("#/components/schemas/SnowflakeType");
    // serenity's CreateAttachment serializes the placeholder id that links `attachments[n]` to
    // the multipart part `files[n]` as a JSON number (`"id": 0`); the spec types every
    // attachment id as a snowflake *string*. Discord accepts both, as it does everywhere a
    // snowflake is expected.
    if is_snowflake_schema
        && v.is_u64()
        && (at.starts_with("$.attachments[") || at.starts_with("$.data.attachments["))
        && at.ends_with("].id")
    {
        return true;
    }
    // serenity's CreateCommand stores `default_member_permissions` as a String (Discord's docs
    // type it "?string", a permission bit set); the preview spec says integer. Only the
    // top-level property of a command body (single or inside the PUT array) is concerned.
    let command_level = at == "$.default_member_permissions"
        || at
            .strip_prefix("$[")
            .and_then(|r| r.strip_suffix("].default_member_permissions"))
            .is_some_and(|n| n.bytes().all(|b| b.is_ascii_digit()));
    if command_level {
        if let Value::String(p) = v {
            return !p.is_empty() && p.bytes().all(|b| b.is_ascii_digit());
        }
    }
    false
}

/// The spec uses exactly two regular expressions; both are matched by hand so no regex crate is
/// needed. `None` means an unknown pattern, which is not checked.
fn known_pattern(pattern: &str, text: &str) -> Option<bool> {
    match pattern {
        "^(0|[1-9][0-9]*)$" => Some(
            text == "0"
                || (!text.is_empty()
                    && !text.starts_with('0')
                    && text.bytes().all(|b| b.is_ascii_digit())),
        ),
        "^#(([0-9a-fA-F]{2}){3}|([0-9a-fA-F]){3})$" => {
            Some(text.strip_prefix('#').is_some_and(|hex| {
                (hex.len() == 6 || hex.len() == 3) && hex.bytes().all(|b| b.is_ascii_hexdigit())
            }))
        }
        _ => None,
    }
}

fn check_number(s: &Map<String, Value>, v: &Value, at: &str, errs: &mut Vec<String>) {
    let Some(x) = v.as_f64() else {
        return;
    };
    if let Some(min) = s.get("minimum").and_then(Value::as_f64) {
        if x < min {
            errs.push(format!("{at}: {v} is below minimum {min}"));
        }
    }
    if let Some(max) = s.get("maximum").and_then(Value::as_f64) {
        if x > max {
            errs.push(format!("{at}: {v} is above maximum {max}"));
        }
    }
}

fn is_integer(v: &Value) -> bool {
    v.is_i64() || v.is_u64() || v.as_f64().is_some_and(|f| f.fract() == 0.0)
}

fn type_name_matches(t: &str, v: &Value) -> bool {
    match t {
        "null" => v.is_null(),
        "boolean" => v.is_boolean(),
        "string" => v.is_string(),
        "integer" => is_integer(v),
        "number" => v.is_number(),
        "array" => v.is_array(),
        "object" => v.is_object(),
        _ => true,
    }
}

fn type_matches(t: &Value, v: &Value) -> bool {
    match t {
        Value::String(name) => type_name_matches(name, v),
        Value::Array(names) => names
            .iter()
            .filter_map(Value::as_str)
            .any(|name| type_name_matches(name, v)),
        _ => true,
    }
}

/// Equality where 4 and 4.0 are the same number, as JSON Schema requires.
fn json_eq(a: &Value, b: &Value) -> bool {
    match (a, b) {
        (Value::Number(x), Value::Number(y)) => {
            x == y || (x.as_f64().is_some() && x.as_f64() == y.as_f64())
        }
        _ => a == b,
    }
}

fn describe(v: &Value) -> String {
    let kind = match v {
        Value::Null => "null",
        Value::Bool(_) => "boolean",
        Value::Number(n) if n.is_f64() => "number",
        Value::Number(_) => "integer",
        Value::String(_) => "string",
        Value::Array(_) => "array",
        Value::Object(_) => "object",
    };
    format!("{kind} {}", short(v))
}

fn short(v: &Value) -> String {
    truncate(&v.to_string())
}

fn truncate(s: &str) -> String {
    if s.chars().count() > 60 {
        format!("{}…", s.chars().take(60).collect::<String>())
    } else {
        s.to_string()
    }
}

fn alt_name(alt: &Value) -> String {
    if let Some(r) = alt.get("$ref").and_then(Value::as_str) {
        return r.rsplit('/').next().unwrap_or(r).to_string();
    }
    if let Some(t) = alt.get("title").and_then(Value::as_str) {
        return t.to_string();
    }
    alt.get("type")
        .map(|t| t.to_string())
        .unwrap_or_else(|| "schema".into())
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn spec() -> Option<Arc<Spec>> {
        default_spec_path().map(|p| load(&p).expect("spec loads"))
    }

    #[test]
    fn serenity_bodies_pass_and_bad_ones_fail() {
        let Some(spec) = spec() else {
            eprintln!("openapi.json not found; skipping");
            return;
        };
        let ok = json!({"content":"fakebot is online","attachments":[],"embeds":[],
            "enforce_nonce":false,"sticker_ids":[],"tts":false,
            "allowed_mentions":{"parse":["users"]}});
        assert_eq!(
            spec.validate_request("POST", "/channels/1/messages", &ok),
            Vec::<String>::new()
        );
        let bad = json!({"content": 5, "nonce": "x".repeat(30)});
        let errs = spec.validate_request("POST", "/channels/1/messages", &bad);
        assert_eq!(errs.len(), 2, "{errs:?}");
        let cb = json!({"type":4,"data":{"content":"count=5","components":[{"type":1,"components":[
            {"type":2,"style":1,"custom_id":"btn:inc","label":"+1","disabled":false}]}],"attachments":[]}});
        assert!(spec
            .validate_request("POST", "/interactions/1/tok/callback", &cb)
            .is_empty());
        let bad_cb = json!({"type":4,"data":{"components":[{"type":1,"components":[
            {"type":2,"style":1,"custom_id":"x".repeat(101),"label":"+1"}]}]}});
        assert!(!spec
            .validate_request("POST", "/interactions/1/tok/callback", &bad_cb)
            .is_empty());
    }

    #[test]
    fn deviations_are_narrow() {
        let Some(spec) = spec() else {
            return;
        };
        let put = |v: Value| spec.validate_request("PUT", "/applications/1/commands", &v);
        let cmd =
            |perm: Value| json!([{"name":"x","description":"d","default_member_permissions":perm}]);
        assert!(put(cmd(json!("32"))).is_empty());
        assert!(put(cmd(json!(32))).is_empty());
        assert_eq!(put(cmd(json!("MANAGE_GUILD"))).len(), 1);
        let post = |v: Value| spec.validate_request("POST", "/channels/1/messages", &v);
        assert!(post(json!({"attachments":[{"id":0}]})).is_empty());
        assert!(post(json!({"attachments":[{"id":"0"}]})).is_empty());
        assert_eq!(post(json!({"attachments":[{"id":-1}]})).len(), 1);
        assert_eq!(
            post(json!({"sticker_ids":[5]})).len(),
            1,
            "other snowflakes stay strict"
        );
    }

    #[test]
    fn check_cost() {
        let Some(p) = default_spec_path() else {
            return;
        };
        let t = std::time::Instant::now();
        let text = std::fs::read(&p).unwrap();
        let spec = Spec::index(serde_json::from_slice(&text).unwrap());
        let load = t.elapsed();
        let body = json!({"type":4,"data":{"content":"hello","embeds":[{"title":"t","description":"d",
            "fields":[{"name":"a","value":"b","inline":false}],"footer":{"text":"f"}}],
            "components":[{"type":1,"components":[
                {"type":2,"style":1,"custom_id":"a","label":"A","disabled":false},
                {"type":2,"style":2,"custom_id":"b","label":"B","disabled":false}]},
              {"type":1,"components":[{"type":3,"custom_id":"s","options":[
                {"label":"x","value":"x","default":false},{"label":"y","value":"y","default":false}]}]}],
            "allowed_mentions":{"parse":["users"]},"flags":64,"attachments":[]}});
        let n = 200;
        let t = std::time::Instant::now();
        for _ in 0..n {
            assert!(spec
                .validate_request("POST", "/interactions/1/tok/callback", &body)
                .is_empty());
        }
        eprintln!(
            "openapi: parse+index {:?}; one callback body with 2 rows + embed: {:?}",
            load,
            t.elapsed() / n
        );
    }
}
