//! `jepa inspect FILE`: a safetensors checkpoint's tensors (name, dtype, shape, numel), the
//! parameter count per top-level prefix, and the metadata.

use std::collections::{BTreeMap, HashMap};
use std::io::Read;
use std::path::Path;

use jepa_engine::io::SafetensorsFile;
use serde::Deserialize;

use crate::args::InspectArgs;
use crate::error::{CliError, CliResult};

/// Metadata values longer than this are cut in the table (the stored run config is long).
const MAX_META_LINES: usize = 12;
const MAX_META_CHARS: usize = 160;

/// One tensor's header entry.
#[derive(Clone, Debug, PartialEq, serde::Serialize)]
pub struct TensorEntry {
    pub name: String,
    pub dtype: String,
    pub shape: Vec<usize>,
    pub numel: usize,
}

#[derive(Deserialize)]
struct HeaderInfo {
    dtype: String,
}

/// Header dtypes by tensor name. Called after the engine has validated the file, so the header
/// is known to be well-formed JSON within the file.
fn header_dtypes(path: &Path) -> CliResult<HashMap<String, String>> {
    let mut f = std::fs::File::open(path).map_err(|e| CliError::io(path, e))?;
    let mut n = [0u8; 8];
    f.read_exact(&mut n).map_err(|e| CliError::io(path, e))?;
    let len = usize::try_from(u64::from_le_bytes(n))
        .map_err(|_| CliError::Other(format!("{}: header too large", path.display())))?;
    let mut text = vec![0u8; len];
    f.read_exact(&mut text).map_err(|e| CliError::io(path, e))?;
    let raw: HashMap<String, serde_json::Value> = serde_json::from_slice(&text)
        .map_err(|e| CliError::Other(format!("{}: header: {e}", path.display())))?;
    Ok(raw
        .into_iter()
        .filter(|(k, _)| k != "__metadata__")
        .filter_map(|(k, v)| Some((k, HeaderInfo::deserialize(v).ok()?.dtype)))
        .collect())
}

/// Reads the tensor list and metadata of `path`, validating the whole header first.
pub fn read_entries(path: &Path) -> CliResult<(Vec<TensorEntry>, BTreeMap<String, String>)> {
    let file = SafetensorsFile::open(path)?;
    let dtypes = header_dtypes(path)?;
    let mut entries = Vec::new();
    for name in file.names() {
        let shape = file.shape(&name)?;
        entries.push(TensorEntry {
            dtype: dtypes.get(&name).cloned().unwrap_or_else(|| "?".into()),
            numel: shape.iter().product(),
            shape,
            name,
        });
    }
    let meta = file
        .metadata()
        .map(|m| m.clone().into_iter().collect())
        .unwrap_or_default();
    Ok((entries, meta))
}

/// Parameter count per first name component (`encoder`, `predictor`, `target_encoder`, …).
pub fn counts_by_prefix(entries: &[TensorEntry]) -> BTreeMap<String, usize> {
    let mut out = BTreeMap::new();
    for e in entries {
        let prefix = e.name.split('.').next().unwrap_or(&e.name).to_string();
        *out.entry(prefix).or_insert(0) += e.numel;
    }
    out
}

pub fn run(args: &InspectArgs) -> CliResult<()> {
    let (entries, meta) = read_entries(&args.file)?;
    if args.json {
        let doc = serde_json::json!({
            "file": args.file.display().to_string(),
            "tensors": entries,
            "parameters": counts_by_prefix(&entries),
            "metadata": meta,
        });
        println!("{}", serde_json::to_string_pretty(&doc).unwrap_or_default());
        return Ok(());
    }
    print!("{}", render(&args.file, &entries, &meta));
    Ok(())
}

/// The human-readable listing.
pub fn render(path: &Path, entries: &[TensorEntry], meta: &BTreeMap<String, String>) -> String {
    let width = entries
        .iter()
        .map(|e| e.name.len())
        .max()
        .unwrap_or(4)
        .max(4);
    let mut s = format!("{}: {} tensors\n", path.display(), entries.len());
    s += &format!(
        "{:width$}  {:5}  {:18}  {:>12}\n",
        "name", "dtype", "shape", "numel"
    );
    for e in entries {
        let shape = format!("{:?}", e.shape);
        s += &format!(
            "{:width$}  {:5}  {:18}  {:>12}\n",
            e.name, e.dtype, shape, e.numel
        );
    }
    s += "parameters:\n";
    let counts = counts_by_prefix(entries);
    for (prefix, n) in &counts {
        s += &format!("  {prefix}: {n} ({:.2} M)\n", *n as f64 / 1e6);
    }
    s += &format!("  total: {}\n", counts.values().sum::<usize>());
    if !meta.is_empty() {
        s += "metadata:\n";
        for (k, v) in meta {
            let lines: Vec<&str> = v.lines().collect();
            if lines.len() > 1 {
                s += &format!("  {k}:\n");
                for line in lines.iter().take(MAX_META_LINES) {
                    s += &format!("    {line}\n");
                }
                if lines.len() > MAX_META_LINES {
                    let more = lines.len() - MAX_META_LINES;
                    s += &format!("    … {more} more lines (--json prints everything)\n");
                }
            } else if v.chars().count() > MAX_META_CHARS {
                let head: String = v.chars().take(MAX_META_CHARS).collect();
                s += &format!("  {k}: {head}… (--json prints everything)\n");
            } else {
                s += &format!("  {k}: {v}\n");
            }
        }
    }
    s
}

#[cfg(test)]
mod tests {
    use super::*;
    use jepa_models::checkpoint::Checkpoint;

    #[test]
    fn lists_tensors_dtypes_counts_and_metadata() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("c.safetensors");
        let mut ck = Checkpoint::new();
        ck.insert("encoder.pos_embed", &[1, 4, 2], vec![0.0; 8])
            .unwrap();
        ck.insert("predictor.mask_token", &[1, 1, 2], vec![1.0; 2])
            .unwrap();
        ck.set_meta("step", "12");
        ck.save(&path).unwrap();
        let (entries, meta) = read_entries(&path).unwrap();
        assert_eq!(entries.len(), 2);
        assert_eq!(entries[0].name, "encoder.pos_embed");
        assert_eq!(entries[0].dtype, "F32");
        assert_eq!(entries[0].numel, 8);
        assert_eq!(meta.get("step").map(String::as_str), Some("12"));
        let counts = counts_by_prefix(&entries);
        assert_eq!(counts["encoder"], 8);
        assert_eq!(counts["predictor"], 2);
        let text = render(&path, &entries, &meta);
        assert!(text.contains("total: 10"), "{text}");
    }
}
