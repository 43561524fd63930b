//! The `convert_units` tool: length, mass, temperature, volume, speed, area, time and data
//! sizes, with English and Chinese unit names. Every unit is a factor to its category's base
//! unit, except temperatures, which convert through kelvin.

use agentune_schema::ToolSpec;
use serde_json::{Map, Value, json};

use super::{Tool, ToolError, num, num_arg, ordered, str_arg};

/// One unit: its canonical symbol, category, factor to the base unit, and the names it is
/// known by (matched case-insensitively, spaces and dots ignored).
struct Unit {
    symbol: &'static str,
    category: &'static str,
    factor: f64,
    names: &'static [&'static str],
}

const fn u(
    symbol: &'static str,
    category: &'static str,
    factor: f64,
    names: &'static [&'static str],
) -> Unit {
    Unit {
        symbol,
        category,
        factor,
        names,
    }
}

/// Base units: metre, kilogram, kelvin, litre, metre per second, square metre, second, byte.
const UNITS: &[Unit] = &[
    // Length.
    u(
        "mm",
        "length",
        0.001,
        &[
            "millimeter",
            "millimeters",
            "millimetre",
            "millimetres",
            "毫米",
        ],
    ),
    u(
        "cm",
        "length",
        0.01,
        &[
            "centimeter",
            "centimeters",
            "centimetre",
            "centimetres",
            "厘米",
            "公分",
        ],
    ),
    u(
        "m",
        "length",
        1.0,
        &["meter", "meters", "metre", "metres", "米"],
    ),
    u(
        "km",
        "length",
        1000.0,
        &[
            "kilometer",
            "kilometers",
            "kilometre",
            "kilometres",
            "公里",
            "千米",
        ],
    ),
    u("in", "length", 0.0254, &["inch", "inches", "英寸", "\""]),
    u("ft", "length", 0.3048, &["foot", "feet", "英尺", "'"]),
    u("yd", "length", 0.9144, &["yard", "yards", "码"]),
    u("mi", "length", 1609.344, &["mile", "miles", "英里"]),
    u(
        "nmi",
        "length",
        1852.0,
        &["nautical mile", "nautical miles", "海里"],
    ),
    u("li", "length", 500.0, &["里", "chinese mile"]),
    // Mass.
    u("mg", "mass", 1e-6, &["milligram", "milligrams", "毫克"]),
    u("g", "mass", 0.001, &["gram", "grams", "gramme", "克"]),
    u(
        "kg",
        "mass",
        1.0,
        &["kilogram", "kilograms", "kilo", "kilos", "千克", "公斤"],
    ),
    u(
        "t",
        "mass",
        1000.0,
        &["tonne", "tonnes", "metric ton", "metric tons", "吨"],
    ),
    u(
        "oz",
        "mass",
        0.028_349_523_125,
        &["ounce", "ounces", "盎司"],
    ),
    u(
        "lb",
        "mass",
        0.453_592_37,
        &["lbs", "pound", "pounds", "磅"],
    ),
    u("st", "mass", 6.350_293_18, &["stone", "stones", "英石"]),
    u("jin", "mass", 0.5, &["斤", "市斤", "catty"]),
    u("liang", "mass", 0.05, &["两", "tael"]),
    // Temperature (factors unused; see `to_kelvin`).
    u(
        "C",
        "temperature",
        1.0,
        &[
            "celsius",
            "°c",
            "degc",
            "degrees celsius",
            "摄氏度",
            "摄氏",
            "℃",
        ],
    ),
    u(
        "F",
        "temperature",
        1.0,
        &[
            "fahrenheit",
            "°f",
            "degf",
            "degrees fahrenheit",
            "华氏度",
            "华氏",
            "℉",
        ],
    ),
    u(
        "K",
        "temperature",
        1.0,
        &["kelvin", "kelvins", "开尔文", "开"],
    ),
    // Volume (US customary for cups, pints, quarts, gallons, fluid ounces).
    u(
        "ml",
        "volume",
        0.001,
        &[
            "milliliter",
            "milliliters",
            "millilitre",
            "millilitres",
            "毫升",
            "cc",
        ],
    ),
    u(
        "l",
        "volume",
        1.0,
        &["liter", "liters", "litre", "litres", "升", "公升"],
    ),
    u(
        "m3",
        "volume",
        1000.0,
        &[
            "m^3",
            "cubic meter",
            "cubic meters",
            "cubic metre",
            "立方米",
            "方",
        ],
    ),
    u(
        "tsp",
        "volume",
        0.004_928_921_593_75,
        &["teaspoon", "teaspoons", "茶匙"],
    ),
    u(
        "tbsp",
        "volume",
        0.014_786_764_781_25,
        &["tablespoon", "tablespoons", "汤匙"],
    ),
    u(
        "fl_oz",
        "volume",
        0.029_573_529_562_5,
        &["fl oz", "floz", "fluid ounce", "fluid ounces", "液量盎司"],
    ),
    u("cup", "volume", 0.236_588_236_5, &["cups", "杯"]),
    u("pt", "volume", 0.473_176_473, &["pint", "pints", "品脱"]),
    u("qt", "volume", 0.946_352_946, &["quart", "quarts", "夸脱"]),
    u(
        "gal",
        "volume",
        3.785_411_784,
        &["gallon", "gallons", "us gallon", "加仑"],
    ),
    u(
        "imp_gal",
        "volume",
        4.546_09,
        &[
            "imperial gallon",
            "imperial gallons",
            "uk gallon",
            "英制加仑",
        ],
    ),
    // Speed.
    u(
        "m/s",
        "speed",
        1.0,
        &[
            "mps",
            "meters per second",
            "metres per second",
            "米每秒",
            "米/秒",
        ],
    ),
    u(
        "km/h",
        "speed",
        1.0 / 3.6,
        &[
            "kmh",
            "kph",
            "km/hr",
            "kilometers per hour",
            "kilometres per hour",
            "公里每小时",
            "公里/小时",
            "千米每小时",
        ],
    ),
    u(
        "mph",
        "speed",
        0.447_04,
        &["mi/h", "miles per hour", "英里每小时"],
    ),
    u(
        "kn",
        "speed",
        1852.0 / 3600.0,
        &["knot", "knots", "kt", "节"],
    ),
    u("ft/s", "speed", 0.3048, &["fps", "feet per second"]),
    // Area.
    u(
        "cm2",
        "area",
        1e-4,
        &[
            "cm^2",
            "square centimeter",
            "square centimeters",
            "平方厘米",
        ],
    ),
    u(
        "m2",
        "area",
        1.0,
        &[
            "m^2",
            "square meter",
            "square meters",
            "square metre",
            "square metres",
            "sqm",
            "平方米",
            "平米",
        ],
    ),
    u(
        "km2",
        "area",
        1e6,
        &[
            "km^2",
            "square kilometer",
            "square kilometers",
            "square kilometre",
            "平方公里",
            "平方千米",
        ],
    ),
    u("ha", "area", 1e4, &["hectare", "hectares", "公顷"]),
    u("acre", "area", 4_046.856_422_4, &["acres", "英亩"]),
    u(
        "ft2",
        "area",
        0.092_903_04,
        &[
            "ft^2",
            "sq ft",
            "sqft",
            "square foot",
            "square feet",
            "平方英尺",
        ],
    ),
    u(
        "mi2",
        "area",
        2_589_988.110_336,
        &["mi^2", "sq mi", "square mile", "square miles", "平方英里"],
    ),
    u("mu", "area", 10_000.0 / 15.0, &["亩"]),
    // Time (a year is 365 days, a month 30 days).
    u(
        "ms",
        "time",
        0.001,
        &["millisecond", "milliseconds", "毫秒"],
    ),
    u(
        "s",
        "time",
        1.0,
        &["sec", "secs", "second", "seconds", "秒"],
    ),
    u(
        "min",
        "time",
        60.0,
        &["mins", "minute", "minutes", "分钟", "分"],
    ),
    u(
        "h",
        "time",
        3600.0,
        &["hr", "hrs", "hour", "hours", "小时", "钟头"],
    ),
    u("day", "time", 86_400.0, &["d", "days", "天", "日"]),
    u("week", "time", 604_800.0, &["wk", "weeks", "周", "星期"]),
    u("month", "time", 2_592_000.0, &["months", "月", "个月"]),
    u("year", "time", 31_536_000.0, &["yr", "years", "年"]),
    // Data sizes: SI prefixes are powers of 1000, IEC (KiB...) powers of 1024.
    u("bit", "data", 0.125, &["bits", "b", "比特"]),
    u("B", "data", 1.0, &["byte", "bytes", "字节"]),
    u("KB", "data", 1e3, &["kilobyte", "kilobytes", "kb"]),
    u("MB", "data", 1e6, &["megabyte", "megabytes", "mb", "兆"]),
    u("GB", "data", 1e9, &["gigabyte", "gigabytes", "gb"]),
    u("TB", "data", 1e12, &["terabyte", "terabytes", "tb"]),
    u("KiB", "data", 1024.0, &["kibibyte", "kibibytes", "kib"]),
    u(
        "MiB",
        "data",
        1_048_576.0,
        &["mebibyte", "mebibytes", "mib"],
    ),
    u(
        "GiB",
        "data",
        1_073_741_824.0,
        &["gibibyte", "gibibytes", "gib"],
    ),
    u(
        "TiB",
        "data",
        1_099_511_627_776.0,
        &["tebibyte", "tebibytes", "tib"],
    ),
];

fn squash(s: &str) -> String {
    s.trim()
        .chars()
        .filter(|c| !c.is_whitespace() && *c != '.' && *c != '_')
        .collect::<String>()
}

/// Finds a unit by symbol or name. Symbols are matched case-sensitively first (so `mm` and
/// `Mm`, `B` and `b` differ where it matters), then every name case-insensitively.
fn find(name: &str) -> Option<&'static Unit> {
    let squashed = squash(name);
    if let Some(unit) = UNITS.iter().find(|u| squash(u.symbol) == squashed) {
        return Some(unit);
    }
    let lower = squashed.to_lowercase();
    UNITS.iter().find(|u| {
        squash(u.symbol).to_lowercase() == lower
            || u.names.iter().any(|n| squash(n).to_lowercase() == lower)
    })
}

fn to_kelvin(symbol: &str, v: f64) -> f64 {
    match symbol {
        "C" => v + 273.15,
        "F" => (v - 32.0) * 5.0 / 9.0 + 273.15,
        _ => v,
    }
}

fn from_kelvin(symbol: &str, k: f64) -> f64 {
    match symbol {
        "C" => k - 273.15,
        "F" => (k - 273.15) * 9.0 / 5.0 + 32.0,
        _ => k,
    }
}

/// A successful conversion.
#[derive(Debug, Clone, PartialEq)]
pub struct Conversion {
    /// The category (`length`, `mass`, ...).
    pub category: &'static str,
    /// Canonical symbol of the source unit.
    pub from: &'static str,
    /// Canonical symbol of the target unit.
    pub to: &'static str,
    /// The converted value (unrounded).
    pub result: f64,
}

/// Converts `value` from one unit to another; the error names the unit that is unknown or the
/// categories that do not match.
pub fn convert(value: f64, from: &str, to: &str) -> Result<Conversion, ToolError> {
    let unknown = |arg: &str, name: &str| {
        let mut message = format!("unknown unit `{name}`");
        let names = UNITS.iter().map(|u| u.symbol);
        if let Some(best) = crate::validate::closest(name, names) {
            message.push_str(&format!(" (did you mean `{best}`?)"));
        }
        message.push_str(&format!("; known units: {}", symbols_by_category()));
        ToolError::invalid(arg, message)
    };
    let f = find(from).ok_or_else(|| unknown("from_unit", from))?;
    let t = find(to).ok_or_else(|| unknown("to_unit", to))?;
    if f.category != t.category {
        return Err(ToolError::invalid(
            "to_unit",
            format!(
                "cannot convert {} (`{}`) to {} (`{}`)",
                f.category, f.symbol, t.category, t.symbol
            ),
        ));
    }
    let result = if f.category == "temperature" {
        let k = to_kelvin(f.symbol, value);
        if k < 0.0 {
            return Err(ToolError::invalid(
                "value",
                format!("{value} {} is below absolute zero", f.symbol),
            ));
        }
        from_kelvin(t.symbol, k)
    } else {
        value * f.factor / t.factor
    };
    if !result.is_finite() {
        return Err(ToolError::Failed(
            "the result is too large to represent".into(),
        ));
    }
    Ok(Conversion {
        category: f.category,
        from: f.symbol,
        to: t.symbol,
        result,
    })
}

fn symbols_by_category() -> String {
    let mut out: Vec<String> = Vec::new();
    let mut cat = "";
    for unit in UNITS {
        if unit.category != cat {
            cat = unit.category;
            out.push(format!("{cat}: {}", unit.symbol));
        } else if let Some(last) = out.last_mut() {
            last.push_str(&format!(", {}", unit.symbol));
        }
    }
    out.join("; ")
}

/// Significant digits kept in results, so floating-point noise does not reach the model.
fn tidy(x: f64) -> f64 {
    if x == 0.0 || !x.is_finite() {
        return x;
    }
    let magnitude = x.abs().log10().floor() as i32;
    let digits = 9 - magnitude;
    if !(0..=15).contains(&digits) {
        return x;
    }
    let scale = 10f64.powi(digits);
    (x * scale).round() / scale
}

/// The `convert_units` tool.
#[derive(Debug)]
pub struct ConvertUnits {
    spec: ToolSpec,
}

impl Default for ConvertUnits {
    fn default() -> Self {
        Self::new()
    }
}

impl ConvertUnits {
    /// The tool with its spec.
    pub fn new() -> Self {
        let description = format!(
            "Convert a quantity between units of the same kind: length, mass, temperature, \
             volume (US cups, pints, quarts and gallons), speed, area, time (a month is 30 days, \
             a year 365 days) and data sizes (KB, MB... are powers of 1000; KiB, MiB... powers \
             of 1024). Units are given by symbol or name, in English or Chinese (e.g. \"km\", \
             \"miles\", \"°F\", \"公斤\", \"斤\", \"亩\"). Known symbols: {}.",
            symbols_by_category()
        );
        Self {
            spec: ToolSpec::new(
                "convert_units",
                description,
                json!({
                    "type": "object",
                    "properties": {
                        "value": {"type": "number", "description": "The quantity to convert."},
                        "from_unit": {"type": "string", "description": "The unit of `value`, e.g. \"mi\".", "minLength": 1},
                        "to_unit": {"type": "string", "description": "The unit wanted, e.g. \"km\".", "minLength": 1}
                    },
                    "required": ["value", "from_unit", "to_unit"],
                    "additionalProperties": false
                }),
            ),
        }
    }
}

impl Tool for ConvertUnits {
    fn spec(&self) -> &ToolSpec {
        &self.spec
    }

    fn call(&self, args: &Map<String, Value>) -> Result<String, ToolError> {
        let value = num_arg(args, "value")?;
        let c = convert(
            value,
            str_arg(args, "from_unit")?,
            str_arg(args, "to_unit")?,
        )?;
        ordered(vec![
            ("value", num(value)),
            ("from_unit", json!(c.from)),
            ("to_unit", json!(c.to)),
            ("result", num(tidy(c.result))),
            ("category", json!(c.category)),
        ])
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use super::*;

    fn close(a: f64, b: f64) -> bool {
        (a - b).abs() <= 1e-9 * b.abs().max(1.0)
    }

    #[test]
    fn conversions_by_category() {
        let cases: &[(f64, &str, &str, f64)] = &[
            (1.0, "mi", "km", 1.609_344),
            (10.0, "kilometers", "miles", 6.213_711_922_373_34),
            (12.0, "in", "ft", 1.0),
            (2.0, "公斤", "斤", 4.0),
            (1.0, "lb", "g", 453.592_37),
            (100.0, "C", "F", 212.0),
            (32.0, "°F", "celsius", 0.0),
            (0.0, "K", "C", -273.15),
            (1.0, "gallon", "l", 3.785_411_784),
            (2.0, "cups", "ml", 473.176_473),
            (100.0, "km/h", "m/s", 27.777_777_777_777_8),
            (60.0, "mph", "km/h", 96.560_64),
            (1.0, "ha", "m2", 10_000.0),
            (1.0, "acre", "亩", 6.070_284_633_6),
            (90.0, "min", "h", 1.5),
            (2.0, "weeks", "days", 14.0),
            (1.0, "GiB", "MiB", 1024.0),
            (1.0, "GB", "MB", 1000.0),
            (8.0, "bit", "B", 1.0),
        ];
        for (v, f, t, want) in cases {
            let got = convert(*v, f, t).unwrap().result;
            assert!(close(got, *want), "{v} {f} -> {t}: got {got}, want {want}");
        }
    }

    #[test]
    fn symbols_are_case_sensitive_where_it_matters() {
        assert_eq!(find("B").unwrap().symbol, "B");
        assert_eq!(find("b").unwrap().symbol, "bit");
        assert_eq!(find("MB").unwrap().symbol, "MB");
        assert_eq!(find("Km").unwrap().symbol, "km");
        assert_eq!(find(" square  feet ").unwrap().symbol, "ft2");
    }

    #[test]
    fn bad_units_are_clear_errors() {
        let err = convert(1.0, "km", "kg").unwrap_err().to_string();
        assert!(
            err.contains("cannot convert length (`km`) to mass (`kg`)"),
            "{err}"
        );
        let err = convert(1.0, "kmm", "m").unwrap_err().to_string();
        assert!(err.contains("unknown unit `kmm`"), "{err}");
        assert!(err.contains("did you mean"), "{err}");
        let err = convert(-500.0, "C", "K").unwrap_err().to_string();
        assert!(err.contains("below absolute zero"), "{err}");
        let err = convert(1e308, "TiB", "bit").unwrap_err().to_string();
        assert!(err.contains("too large"), "{err}");
    }

    #[test]
    fn tool_output() {
        let mut args = Map::new();
        args.insert("value".into(), json!(5));
        args.insert("from_unit".into(), json!("km"));
        args.insert("to_unit".into(), json!("mi"));
        let out: Value = serde_json::from_str(&ConvertUnits::new().call(&args).unwrap()).unwrap();
        assert_eq!(out["result"], json!(3.106855961));
        assert_eq!(out["category"], "length");
        assert_eq!(out["to_unit"], "mi");
    }
}
