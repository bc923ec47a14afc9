//! The names MCP tools are offered under: `mcp__<server>__<tool>`, as in
//! Codex, limited to what the APIs accept (`[A-Za-z0-9_-]`, 64 bytes).

use std::collections::HashSet;

/// The longest tool name the OpenAI APIs accept.
pub const MAX_TOOL_NAME_LEN: usize = 64;

/// Replace every byte the APIs refuse in a tool name with `_`.
pub fn sanitize(name: &str) -> String {
    name.chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '_' || c == '-' {
                c
            } else {
                '_'
            }
        })
        .collect()
}

/// FNV-1a: a short, stable hash to tell truncated names apart.
fn short_hash(text: &str) -> String {
    let mut hash: u64 = 0xcbf2_9ce4_8422_2325;
    for byte in text.bytes() {
        hash ^= u64::from(byte);
        hash = hash.wrapping_mul(0x0100_0000_01b3);
    }
    format!("{:010x}", hash & 0xff_ffff_ffff)
}

/// The model-facing name of `tool` on `server`, unique among `taken` (which
/// it joins). Too long or clashing names end in a hash of the original pair.
pub fn qualified_name(server: &str, tool: &str, taken: &mut HashSet<String>) -> String {
    let raw = format!("mcp__{server}__{tool}");
    let mut name = sanitize(&raw);
    if name.len() > MAX_TOOL_NAME_LEN || taken.contains(&name) {
        let suffix = short_hash(&raw);
        let keep = MAX_TOOL_NAME_LEN - suffix.len() - 1;
        name.truncate(keep.min(name.len()));
        name = format!("{name}_{suffix}");
    }
    // A clash even with the hash: count up until free (vanishingly rare).
    let mut candidate = name.clone();
    let mut n = 1u32;
    while taken.contains(&candidate) {
        let tail = format!("_{n}");
        let mut base = name.clone();
        base.truncate(MAX_TOOL_NAME_LEN - tail.len());
        candidate = format!("{base}{tail}");
        n += 1;
    }
    taken.insert(candidate.clone());
    candidate
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_follow_codex_and_stay_unique_and_short() {
        let mut taken = HashSet::new();
        assert_eq!(
            qualified_name("fs", "read_file", &mut taken),
            "mcp__fs__read_file"
        );
        assert_eq!(
            qualified_name("my.server", "a b/c", &mut taken),
            "mcp__my_server__a_b_c"
        );
        // `my_server`/`a_b_c` sanitizes to the same name: it gets a hash.
        let clash = qualified_name("my_server", "a_b_c", &mut taken);
        assert_ne!(clash, "mcp__my_server__a_b_c");
        assert!(clash.starts_with("mcp__my_server__a_b_c_"), "{clash}");
        let long = "x".repeat(100);
        let a = qualified_name("srv", &long, &mut taken);
        let b = qualified_name("srv", &format!("{long}y"), &mut taken);
        assert!(a.len() <= MAX_TOOL_NAME_LEN && b.len() <= MAX_TOOL_NAME_LEN);
        assert_ne!(a, b);
        assert!(a
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-'));
        // Stable: the same pair gives the same name in a fresh set.
        assert_eq!(a, qualified_name("srv", &long, &mut HashSet::new()));
    }
}
