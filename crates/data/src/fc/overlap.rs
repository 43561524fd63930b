//! Never train on the benchmark: finds synthesised (or imported) functions whose name and
//! description are near duplicates of a BFCL function document (MinHash over character
//! n-grams, LSH candidates, estimated Jaccard similarity), so they can be reported and left
//! out of training data. BFCL itself stays evaluation-only.

use std::collections::HashSet;
use std::path::Path;

use agentune_schema::ToolSpec;
use serde::Serialize;
use serde_json::Value;

use crate::error::{Error, Result};
use crate::minhash::{LshIndex, MinHashParams, MinHasher, similarity};
use crate::record::normalize;

/// One BFCL function document.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct BfclFunction {
    /// The file it was read from (its name only).
    pub file: String,
    /// The function name.
    pub name: String,
    /// Its description.
    pub description: String,
}

/// The text compared: the name's words and the description, normalised.
pub fn doc_text(name: &str, description: &str) -> String {
    normalize(&format!(
        "{} {}",
        agentune_runtime::tools::words(name).join(" "),
        description
    ))
}

/// Every distinct function document of a BFCL data folder: the `function` lists of the
/// question files (`BFCL_*.json`, JSONL) and the documents of `multi_turn_func_doc/`.
pub fn read_bfcl_functions(dir: &Path) -> Result<Vec<BfclFunction>> {
    if !dir.is_dir() {
        return Err(Error::Invalid(format!(
            "BFCL data folder {} does not exist (scripts/fetch_bfcl.sh downloads it)",
            dir.display()
        )));
    }
    let mut files = Vec::new();
    for sub in [dir.to_path_buf(), dir.join("multi_turn_func_doc")] {
        if !sub.is_dir() {
            continue;
        }
        let rd = std::fs::read_dir(&sub).map_err(|e| Error::io("list", &sub, e))?;
        for entry in rd {
            let p = entry.map_err(|e| Error::io("list", &sub, e))?.path();
            if p.is_file() && p.extension().is_some_and(|x| x == "json") {
                files.push(p);
            }
        }
    }
    files.sort();
    let mut seen = HashSet::new();
    let mut out = Vec::new();
    for f in &files {
        let text = std::fs::read_to_string(f).map_err(|e| Error::io("read", f, e))?;
        let file = f
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default();
        // Question files are JSONL; a few files (BFCL's format-sensitivity index, some
        // function docs) are one pretty-printed JSON document, read whole.
        let records: Vec<Value> = match serde_json::from_str::<Value>(&text) {
            Ok(Value::Array(items)) => items,
            Ok(v) => vec![v],
            Err(_) => {
                let mut records = Vec::new();
                for (i, line) in text.lines().enumerate() {
                    let line = line.trim();
                    if line.is_empty() {
                        continue;
                    }
                    records.push(serde_json::from_str(line).map_err(|e| {
                        Error::input(f, Some(i + 1), "line", format!("invalid JSON: {e}"))
                    })?);
                }
                records
            }
        };
        for v in &records {
            let docs: Vec<&Value> = match v.get("function") {
                Some(Value::Array(list)) => list.iter().collect(),
                _ if v.get("name").is_some() => vec![v],
                _ => Vec::new(),
            };
            for d in docs {
                let name = d.get("name").and_then(Value::as_str).unwrap_or("");
                let desc = d.get("description").and_then(Value::as_str).unwrap_or("");
                if name.is_empty() || !seen.insert((name.to_owned(), desc.to_owned())) {
                    continue;
                }
                out.push(BfclFunction {
                    file: file.clone(),
                    name: name.to_owned(),
                    description: desc.to_owned(),
                });
            }
        }
    }
    Ok(out)
}

/// A function too close to a BFCL document.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct OverlapPair {
    /// Our function.
    pub tool: String,
    /// The BFCL function.
    pub bfcl_name: String,
    /// The BFCL file it is in.
    pub bfcl_file: String,
    /// Estimated Jaccard similarity of the two texts.
    pub similarity: f64,
}

/// The overlap report (written as JSON).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct OverlapReport {
    /// Our functions checked.
    pub checked: usize,
    /// BFCL function documents compared with.
    pub bfcl_functions: usize,
    /// Similarity at or above which a function counts as a near duplicate.
    pub threshold: f64,
    /// The highest similarity of any of our functions to any BFCL document.
    pub max_similarity: f64,
    /// Our functions at or above the threshold, each with its closest BFCL document.
    pub near_duplicates: Vec<OverlapPair>,
}

impl OverlapReport {
    /// Names of our functions found too close to BFCL.
    pub fn flagged(&self) -> HashSet<&str> {
        self.near_duplicates
            .iter()
            .map(|p| p.tool.as_str())
            .collect()
    }
}

/// Compares `specs` with the BFCL documents. Candidates come from LSH (32 bands of 4 rows:
/// a pair at similarity 0.5 is found with probability 0.87, at 0.7 with 0.9996), and each
/// candidate's similarity is estimated from the full signatures.
pub fn check_overlap(
    specs: &[ToolSpec],
    bfcl: &[BfclFunction],
    threshold: f64,
) -> Result<OverlapReport> {
    if !(0.0..=1.0).contains(&threshold) {
        return Err(Error::Invalid(format!(
            "the overlap threshold must be between 0 and 1, found {threshold}"
        )));
    }
    let params = MinHashParams {
        num_perm: 128,
        bands: 32,
        ngram: 5,
        threshold,
        seed: 7,
    };
    let hasher = MinHasher::new(params);
    let theirs = hasher.signatures(bfcl, |f| doc_text(&f.name, &f.description));
    let ours = hasher.signatures(specs, |s| doc_text(&s.name, s.description()));
    let mut index = LshIndex::new(params.bands, params.rows());
    for (i, sig) in theirs.iter().enumerate() {
        index.insert(i as u32, sig);
    }
    let mut near = Vec::new();
    let mut max_similarity: f64 = 0.0;
    let mut cands = Vec::new();
    for (spec, sig) in specs.iter().zip(&ours) {
        index.candidates(sig, &mut cands);
        let best = cands
            .iter()
            .map(|&j| (j as usize, similarity(sig, &theirs[j as usize])))
            .max_by(|a, b| a.1.total_cmp(&b.1));
        if let Some((j, sim)) = best {
            max_similarity = max_similarity.max(sim);
            if sim >= threshold {
                near.push(OverlapPair {
                    tool: spec.name.clone(),
                    bfcl_name: bfcl[j].name.clone(),
                    bfcl_file: bfcl[j].file.clone(),
                    similarity: (sim * 1000.0).round() / 1000.0,
                });
            }
        }
    }
    near.sort_by(|a, b| b.similarity.total_cmp(&a.similarity));
    Ok(OverlapReport {
        checked: specs.len(),
        bfcl_functions: bfcl.len(),
        threshold,
        max_similarity: (max_similarity * 1000.0).round() / 1000.0,
        near_duplicates: near,
    })
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use super::*;
    use serde_json::json;

    #[test]
    fn near_duplicates_of_bfcl_docs_are_found_and_others_are_not() {
        let dir = tempfile::tempdir().unwrap();
        let line = json!({"id": "simple_0", "question": [], "function": [
            {"name": "calculate_triangle_area", "description": "Calculate the area of a triangle given its base and height.", "parameters": {}},
            {"name": "math.factorial", "description": "Calculate the factorial of a given number.", "parameters": {}}
        ]});
        std::fs::write(
            dir.path().join("BFCL_v4_simple_python.json"),
            format!("{line}\n{line}\n"),
        )
        .unwrap();
        std::fs::create_dir(dir.path().join("multi_turn_func_doc")).unwrap();
        std::fs::write(
            dir.path().join("multi_turn_func_doc/x.json"),
            "{\"name\": \"cat\", \"description\": \"Display the contents of a file.\"}\n",
        )
        .unwrap();
        // A pretty-printed index without functions (like BFCL's format-sensitivity file).
        std::fs::write(
            dir.path().join("BFCL_v4_format_sensitivity.json"),
            "{\n  \"simple_python\": [\"simple_python_58\"]\n}\n",
        )
        .unwrap();
        let bfcl = read_bfcl_functions(dir.path()).unwrap();
        assert_eq!(bfcl.len(), 3, "duplicates are read once");
        let broken = tempfile::tempdir().unwrap();
        std::fs::write(
            broken.path().join("BFCL_v4_simple.json"),
            format!("{line}\n{{\"id\": \n"),
        )
        .unwrap();
        let err = read_bfcl_functions(broken.path()).unwrap_err().to_string();
        assert!(
            err.contains("BFCL_v4_simple.json") && err.contains(":2"),
            "{err}"
        );
        let spec = |n: &str, d: &str| ToolSpec::new(n, d, json!({"type": "object"}));
        let ours = vec![
            spec(
                "calculate_triangle_area",
                "Calculate the area of a triangle given its base and height",
            ),
            spec("get_weather", "Current weather of a city."),
            spec("cat", "Display the contents of a file"),
        ];
        let report = check_overlap(&ours, &bfcl, 0.7).unwrap();
        let flagged = report.flagged();
        assert!(flagged.contains("calculate_triangle_area") && flagged.contains("cat"));
        assert!(!flagged.contains("get_weather"));
        assert!(report.max_similarity >= 0.7);
        assert!(check_overlap(&ours, &bfcl, 1.5).is_err());
        assert!(read_bfcl_functions(&dir.path().join("missing")).is_err());
    }
}
