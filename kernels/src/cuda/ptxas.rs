//! Parsing of the ptxas `-v` report that NVRTC appends to its log (rung 1 of the verification
//! ladder). Kept in the library so the GPU host tooling can reuse it.

/// Resource usage of one entry point as reported by ptxas.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct KernelResources {
    pub name: String,
    pub arch: String,
    pub registers: u32,
    pub barriers: u32,
    pub smem: u32,
    pub stack: u32,
    pub spill_stores: u32,
    pub spill_loads: u32,
}

/// The number in front of `unit` inside `line` ("380 bytes cmem[0]" → 380 for "bytes cmem").
fn number_before(line: &str, unit: &str) -> Option<u32> {
    let pos = line.find(unit)?;
    line[..pos]
        .split(|c: char| !c.is_ascii_digit())
        .rev()
        .find(|s| !s.is_empty())?
        .parse()
        .ok()
}

/// Extracts one record per "Compiling entry function" block of the log.
pub fn parse_ptxas_report(log: &str) -> Vec<KernelResources> {
    let mut out: Vec<KernelResources> = Vec::new();
    for line in log.lines() {
        if let Some(rest) = line.split("Compiling entry function '").nth(1) {
            let mut parts = rest.split('\'');
            let name = parts.next().unwrap_or_default().to_string();
            let arch = rest
                .split("for '")
                .nth(1)
                .and_then(|s| s.split('\'').next())
                .unwrap_or_default();
            out.push(KernelResources {
                name,
                arch: arch.to_string(),
                ..Default::default()
            });
            continue;
        }
        let Some(cur) = out.last_mut() else { continue };
        if line.contains("stack frame") {
            cur.stack = number_before(line, "bytes stack frame").unwrap_or(0);
            cur.spill_stores = number_before(line, "bytes spill stores").unwrap_or(0);
            cur.spill_loads = number_before(line, "bytes spill loads").unwrap_or(0);
        } else if line.contains("Used") && line.contains("registers") {
            cur.registers = number_before(line, "registers").unwrap_or(0);
            cur.barriers = number_before(line, "barriers").unwrap_or(0);
            cur.smem = number_before(line, "bytes smem").unwrap_or(0);
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_a_typical_report() {
        let log = "ptxas info    : 0 bytes gmem\n\
            ptxas info    : Compiling entry function 'add_f32' for 'sm_80'\n\
            ptxas info    : Function properties for add_f32\n\
            \x20   8 bytes stack frame, 4 bytes spill stores, 4 bytes spill loads\n\
            ptxas info    : Used 12 registers, used 1 barriers, 8448 bytes smem, 380 bytes cmem[0]\n";
        let r = parse_ptxas_report(log);
        assert_eq!(r.len(), 1);
        let k = &r[0];
        assert_eq!((k.name.as_str(), k.arch.as_str()), ("add_f32", "sm_80"));
        assert_eq!((k.registers, k.barriers, k.smem), (12, 1, 8448));
        assert_eq!((k.stack, k.spill_stores, k.spill_loads), (8, 4, 4));
    }
}
