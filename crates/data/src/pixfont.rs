//! A 3x5 pixel font for chart labels, drawn as small squares: charts get titles, names and
//! values without a font file or a font-rendering dependency. Covers digits, Latin letters
//! (case-folded) and common punctuation; other characters draw as `?`.

/// The glyph of `c`: five rows of three bits, most significant bit leftmost.
fn glyph(c: char) -> [u8; 5] {
    match c.to_ascii_uppercase() {
        '0' => [7, 5, 5, 5, 7],
        '1' => [2, 6, 2, 2, 7],
        '2' => [7, 1, 7, 4, 7],
        '3' => [7, 1, 7, 1, 7],
        '4' => [5, 5, 7, 1, 1],
        '5' => [7, 4, 7, 1, 7],
        '6' => [7, 4, 7, 5, 7],
        '7' => [7, 1, 1, 1, 1],
        '8' => [7, 5, 7, 5, 7],
        '9' => [7, 5, 7, 1, 7],
        'A' => [2, 5, 7, 5, 5],
        'B' => [6, 5, 6, 5, 6],
        'C' => [3, 4, 4, 4, 3],
        'D' => [6, 5, 5, 5, 6],
        'E' => [7, 4, 6, 4, 7],
        'F' => [7, 4, 6, 4, 4],
        'G' => [3, 4, 5, 5, 3],
        'H' => [5, 5, 7, 5, 5],
        'I' => [7, 2, 2, 2, 7],
        'J' => [1, 1, 1, 5, 2],
        'K' => [5, 5, 6, 5, 5],
        'L' => [4, 4, 4, 4, 7],
        'M' => [5, 7, 7, 5, 5],
        'N' => [6, 5, 5, 5, 5],
        'O' => [2, 5, 5, 5, 2],
        'P' => [6, 5, 6, 4, 4],
        'Q' => [2, 5, 5, 6, 3],
        'R' => [6, 5, 6, 5, 5],
        'S' => [3, 4, 2, 1, 6],
        'T' => [7, 2, 2, 2, 2],
        'U' => [5, 5, 5, 5, 7],
        'V' => [5, 5, 5, 5, 2],
        'W' => [5, 5, 7, 7, 5],
        'X' => [5, 5, 2, 5, 5],
        'Y' => [5, 5, 2, 2, 2],
        'Z' => [7, 1, 2, 4, 7],
        ' ' => [0, 0, 0, 0, 0],
        '-' => [0, 0, 7, 0, 0],
        '_' => [0, 0, 0, 0, 7],
        '.' => [0, 0, 0, 0, 2],
        ',' => [0, 0, 0, 2, 4],
        ':' => [0, 2, 0, 2, 0],
        '/' => [1, 1, 2, 4, 4],
        '%' => [5, 1, 2, 4, 5],
        '(' => [2, 4, 4, 4, 2],
        ')' => [2, 1, 1, 1, 2],
        '+' => [0, 2, 7, 2, 0],
        '=' => [0, 7, 0, 7, 0],
        '<' => [1, 2, 4, 2, 1],
        '>' => [4, 2, 1, 2, 4],
        '\'' => [2, 2, 0, 0, 0],
        _ => [7, 1, 2, 0, 2],
    }
}

/// The width in pixels of `text` at `scale` (4 columns per character, less the last gap).
pub fn width(text: &str, scale: i32) -> i32 {
    let n = text.chars().count() as i32;
    (n * 4 - 1).max(0) * scale
}

/// The filled squares `(x0, y0, x1, y1)` that draw `text` with its top-left corner at
/// `(x, y)`; each font pixel is `scale` x `scale` screen pixels.
pub fn squares(text: &str, x: i32, y: i32, scale: i32) -> Vec<(i32, i32, i32, i32)> {
    let mut out = Vec::new();
    for (i, c) in text.chars().enumerate() {
        let g = glyph(c);
        let gx = x + i as i32 * 4 * scale;
        for (row, bits) in g.iter().enumerate() {
            for col in 0..3 {
                if bits & (4 >> col) != 0 {
                    let px = gx + col * scale;
                    let py = y + row as i32 * scale;
                    out.push((px, py, px + scale, py + scale));
                }
            }
        }
    }
    out
}

/// `text` cut to at most `max_px` pixels wide at `scale`, ending in `.` when cut.
pub fn fit(text: &str, max_px: i32, scale: i32) -> String {
    if width(text, scale) <= max_px {
        return text.to_owned();
    }
    let keep = ((max_px / scale + 1) / 4 - 1).max(0) as usize;
    let mut s: String = text.chars().take(keep).collect();
    s.push('.');
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn glyphs_and_fitting() {
        assert_eq!(squares("1", 0, 0, 1).len(), 1 + 2 + 1 + 1 + 3);
        assert_eq!(squares("ab", 10, 0, 2)[0].0, 10 + 2);
        assert_eq!(width("abc", 2), 22);
        assert_eq!(fit("scenario", 100, 2), "scenario");
        let cut = fit("a_very_long_template_name", 40, 1);
        assert!(width(&cut, 1) <= 40 && cut.ends_with('.'), "{cut}");
    }
}
