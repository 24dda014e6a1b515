//! The registries shown in the configuration guide are registries: every TOML block of
//! docs/configuration.md that declares tools or flags parses and passes the registry's checks,
//! so a reader who copies one starts from a valid file.

use std::path::Path;

use stanchion_config::Registry;

/// The fenced ```toml blocks of `markdown`, with the line each starts on.
fn toml_blocks(markdown: &str) -> Vec<(usize, String)> {
    let mut blocks = Vec::new();
    let mut current: Option<(usize, String)> = None;
    for (index, line) in markdown.lines().enumerate() {
        match (&mut current, line.trim_start()) {
            (None, fence) if fence.starts_with("```toml") => {
                current = Some((index + 1, String::new()))
            }
            (Some(_), "```") => blocks.extend(current.take()),
            (Some((_, text)), _) => {
                text.push_str(line);
                text.push('\n');
            }
            (None, _) => {}
        }
    }
    blocks
}

#[test]
fn every_registry_in_the_configuration_guide_is_valid() {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("../docs/configuration.md");
    let guide = std::fs::read_to_string(&path).expect("the guide");
    let registries: Vec<_> = toml_blocks(&guide)
        .into_iter()
        .filter(|(_, text)| text.contains("[[tools]]") || text.contains("[flags."))
        .collect();
    assert!(registries.len() >= 2, "the guide shows its registries");
    for (line, text) in registries {
        if let Err(error) = Registry::from_toml_str(&text) {
            panic!("docs/configuration.md line {line}: the example registry is refused:\n{error}");
        }
    }
}
