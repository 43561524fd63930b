//! Date and time tools: `current_datetime` (from a [`Clock`] that can be fixed for reproducible
//! runs), `date_add`, `date_diff` and `weekday`. Calendar arithmetic is our own (proleptic
//! Gregorian calendar, years 1 to 9999); time zones are fixed UTC offsets or the zones of the
//! bundled cities, with their daylight-saving rules.

use std::fmt;
use std::time::{SystemTime, UNIX_EPOCH};

use agentune_schema::ToolSpec;
use serde_json::{Map, Value, json};

use super::search::{City, find_city};
use super::{Tool, ToolError, opt_int_arg, opt_str_arg, ordered, str_arg};

/// Where "now" comes from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Clock {
    /// The machine's clock.
    System,
    /// A fixed instant, in seconds since 1970-01-01T00:00:00Z (for reproducible runs).
    Fixed(i64),
}

impl Clock {
    /// A fixed clock from `2026-03-14T09:30:00Z`, `2026-03-14T17:30:00+08:00` or `2026-03-14`
    /// (midnight UTC).
    pub fn fixed(text: &str) -> Result<Self, String> {
        parse_instant(text).map(Self::Fixed)
    }

    /// Seconds since the Unix epoch.
    pub fn now_unix(&self) -> i64 {
        match self {
            Self::Fixed(t) => *t,
            Self::System => SystemTime::now()
                .duration_since(UNIX_EPOCH)
                .map_or(0, |d| i64::try_from(d.as_secs()).unwrap_or(i64::MAX)),
        }
    }

    /// Today's date at a UTC offset (in minutes).
    pub fn today(&self, offset_minutes: i32) -> Date {
        Date::from_days((self.now_unix() + i64::from(offset_minutes) * 60).div_euclid(86_400))
    }
}

/// A calendar date.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Date {
    /// Year, 1..=9999.
    pub year: i32,
    /// Month, 1..=12.
    pub month: u32,
    /// Day of month, 1..=31.
    pub day: u32,
}

/// English weekday names, Monday first (the `weekday` tool's `weekday` field).
pub const WEEKDAYS: [&str; 7] = [
    "Monday",
    "Tuesday",
    "Wednesday",
    "Thursday",
    "Friday",
    "Saturday",
    "Sunday",
];
/// Chinese weekday names, Monday first (the `weekday` tool's `weekday_zh` field).
pub const WEEKDAYS_ZH: [&str; 7] = [
    "星期一",
    "星期二",
    "星期三",
    "星期四",
    "星期五",
    "星期六",
    "星期日",
];
/// English month names, January first.
pub const MONTHS: [&str; 12] = [
    "January",
    "February",
    "March",
    "April",
    "May",
    "June",
    "July",
    "August",
    "September",
    "October",
    "November",
    "December",
];

/// The Chinese name of an English weekday name (`Monday` -> `星期一`); other text is `None`.
pub fn weekday_zh(en: &str) -> Option<&'static str> {
    WEEKDAYS
        .iter()
        .position(|w| *w == en)
        .map(|i| WEEKDAYS_ZH[i])
}

fn is_leap(y: i32) -> bool {
    (y % 4 == 0 && y % 100 != 0) || y % 400 == 0
}

fn days_in_month(y: i32, m: u32) -> u32 {
    match m {
        1 | 3 | 5 | 7 | 8 | 10 | 12 => 31,
        4 | 6 | 9 | 11 => 30,
        _ => {
            if is_leap(y) {
                29
            } else {
                28
            }
        }
    }
}

impl Date {
    /// A date, checked.
    pub fn new(year: i32, month: u32, day: u32) -> Result<Self, String> {
        if !(1..=9999).contains(&year) {
            return Err(format!("year {year} is outside 1..9999"));
        }
        if !(1..=12).contains(&month) {
            return Err(format!("month {month} does not exist"));
        }
        if day == 0 || day > days_in_month(year, month) {
            return Err(format!(
                "{year:04}-{month:02} has no day {day} (it has {} days)",
                days_in_month(year, month)
            ));
        }
        Ok(Self { year, month, day })
    }

    /// Reads `2026-03-14` (also `2026/3/14` and `2026年3月14日`).
    pub fn parse(text: &str) -> Result<Self, String> {
        let t = text.trim();
        let normalised: String = t
            .replace(['年', '月'], "-")
            .replace('日', "")
            .replace('/', "-");
        let parts: Vec<&str> = normalised.split('-').collect();
        let bad = || {
            format!(
                "`{text}` is not a date in YYYY-MM-DD form (relative words such as \"today\" \
                 are not accepted: get today's date from current_datetime)"
            )
        };
        if parts.len() != 3 || parts[0].len() != 4 {
            return Err(bad());
        }
        let num = |s: &str| -> Result<u32, String> {
            if s.is_empty() || s.len() > 4 || !s.chars().all(|c| c.is_ascii_digit()) {
                return Err(bad());
            }
            s.parse().map_err(|_| bad())
        };
        let year = i32::try_from(num(parts[0])?).map_err(|_| bad())?;
        Self::new(year, num(parts[1])?, num(parts[2])?)
    }

    /// Days since 1970-01-01 (negative before).
    pub fn to_days(self) -> i64 {
        // Shift the year to start in March so the leap day is the year's last day.
        let y = i64::from(self.year) - i64::from(self.month <= 2);
        let era = y.div_euclid(400);
        let yoe = y - era * 400;
        let m = i64::from(self.month);
        let mp = (m + 9) % 12;
        let doy = (153 * mp + 2) / 5 + i64::from(self.day) - 1;
        let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
        era * 146_097 + doe - 719_468
    }

    /// The date `days` days after 1970-01-01 (the year may leave 1..9999; callers check).
    pub fn from_days(days: i64) -> Self {
        let z = days.saturating_add(719_468);
        let era = z.div_euclid(146_097);
        let doe = z - era * 146_097;
        let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
        let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
        let mp = (5 * doy + 2) / 153;
        let day = (doy - (153 * mp + 2) / 5 + 1) as u32;
        let month = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
        let year = (yoe + era * 400 + i64::from(month <= 2)) as i32;
        Self { year, month, day }
    }

    /// 0 = Monday ... 6 = Sunday.
    pub fn weekday_index(self) -> usize {
        // 1970-01-01 was a Thursday (index 3).
        (self.to_days() + 3).rem_euclid(7) as usize
    }

    /// The English weekday name.
    pub fn weekday_name(self) -> &'static str {
        WEEKDAYS[self.weekday_index()]
    }

    /// 1-based day of the year.
    pub fn day_of_year(self) -> i64 {
        self.to_days()
            - Self {
                year: self.year,
                month: 1,
                day: 1,
            }
            .to_days()
            + 1
    }

    /// ISO 8601 week number (1..=53) and its week-based year.
    pub fn iso_week(self) -> (i32, u32) {
        let wd = self.weekday_index() as i64; // Monday 0
        let thursday = Self::from_days(self.to_days() - wd + 3);
        let jan1 = Self {
            year: thursday.year,
            month: 1,
            day: 1,
        };
        let week = (thursday.to_days() - jan1.to_days()) / 7 + 1;
        (thursday.year, week as u32)
    }

    /// The date `n` days later (earlier for negative `n`), within years 1..9999.
    pub fn add_days(self, n: i64) -> Result<Self, String> {
        let days = self.to_days().saturating_add(n);
        // Years 1..9999 span these day numbers; outside them the result is refused before
        // any calendar arithmetic.
        if !(-719_162..=2_932_896).contains(&days) {
            return Err("the result is outside years 1..9999".into());
        }
        let d = Self::from_days(days);
        Self::new(d.year, d.month, d.day).map_err(|_| "the result is outside years 1..9999".into())
    }

    /// The date `n` months later; the day is clamped to the month's end (Jan 31 + 1 month =
    /// Feb 28 or 29).
    pub fn add_months(self, n: i64) -> Result<Self, String> {
        let total = (i64::from(self.year) * 12 + i64::from(self.month) - 1).saturating_add(n);
        let year = total.div_euclid(12);
        let month = (total.rem_euclid(12) + 1) as u32;
        if !(1..=9999).contains(&year) {
            return Err("the result is outside years 1..9999".into());
        }
        let year = year as i32;
        let day = self.day.min(days_in_month(year, month));
        Self::new(year, month, day)
    }
}

impl fmt::Display for Date {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:04}-{:02}-{:02}", self.year, self.month, self.day)
    }
}

/// Reads an instant: `YYYY-MM-DDTHH:MM[:SS]` followed by `Z` or `±HH:MM`, or a bare date.
fn parse_instant(text: &str) -> Result<i64, String> {
    let t = text.trim();
    let bad = || format!("`{text}` is not an instant like 2026-03-14T09:30:00Z");
    let (date_part, rest) = match t.find(['T', ' ']) {
        Some(i) => (&t[..i], &t[i + 1..]),
        None => (t, ""),
    };
    let date = Date::parse(date_part).map_err(|_| bad())?;
    if rest.is_empty() {
        return Ok(date.to_days() * 86_400);
    }
    let (clock, offset) = if let Some(c) = rest.strip_suffix('Z').or_else(|| rest.strip_suffix('z'))
    {
        (c, 0)
    } else if let Some(i) = rest.rfind(['+', '-']) {
        (&rest[..i], parse_offset(&rest[i..]).ok_or_else(bad)?)
    } else {
        return Err(format!("{} (a time zone, Z or +08:00, is required)", bad()));
    };
    let nums: Vec<&str> = clock.split(':').collect();
    if !(2..=3).contains(&nums.len()) {
        return Err(bad());
    }
    let field = |s: &str, max: i64| -> Result<i64, String> {
        let whole = s.split('.').next().unwrap_or(s);
        match whole.parse::<i64>() {
            Ok(v) if (0..=max).contains(&v) && whole.len() == 2 => Ok(v),
            _ => Err(bad()),
        }
    };
    let h = field(nums[0], 23)?;
    let m = field(nums[1], 59)?;
    let s = if nums.len() == 3 {
        field(nums[2], 60)?
    } else {
        0
    };
    Ok(date.to_days() * 86_400 + h * 3600 + m * 60 + s - i64::from(offset) * 60)
}

/// Reads `+08:00`, `+0800`, `+8`, `-05:30` (also after `UTC`/`GMT`) as minutes.
fn parse_offset(text: &str) -> Option<i32> {
    let t = text.trim();
    let upper = t.to_uppercase();
    let t = upper
        .strip_prefix("UTC")
        .or_else(|| upper.strip_prefix("GMT"))
        .unwrap_or(&upper)
        .trim();
    if t.is_empty() || t == "Z" {
        return Some(0);
    }
    let (sign, digits) = match t.as_bytes().first()? {
        b'+' => (1, &t[1..]),
        b'-' => (-1, &t[1..]),
        _ => return None,
    };
    let (h, m) = if let Some((h, m)) = digits.split_once(':') {
        (h.parse::<i32>().ok()?, m.parse::<i32>().ok()?)
    } else if digits.len() == 4 {
        (digits[..2].parse().ok()?, digits[2..].parse().ok()?)
    } else {
        (digits.parse().ok()?, 0)
    };
    if h > 14 || !(0..60).contains(&m) {
        return None;
    }
    Some(sign * (h * 60 + m))
}

fn format_offset(minutes: i32) -> String {
    let sign = if minutes < 0 { '-' } else { '+' };
    let m = minutes.abs();
    format!("{sign}{:02}:{:02}", m / 60, m % 60)
}

/// The nth (1-based) given weekday of a month, or the last one when `n` is 0.
fn nth_weekday(year: i32, month: u32, weekday: usize, n: u32) -> Date {
    if n == 0 {
        let last = Date {
            year,
            month,
            day: days_in_month(year, month),
        };
        let back = (last.weekday_index() + 7 - weekday) % 7;
        return Date::from_days(last.to_days() - back as i64);
    }
    let first = Date {
        year,
        month,
        day: 1,
    };
    let ahead = (weekday + 7 - first.weekday_index()) % 7;
    Date::from_days(first.to_days() + ahead as i64 + 7 * i64::from(n - 1))
}

/// The UTC offset (minutes) in force at `unix` for a city: its standard offset plus an hour
/// during daylight-saving time under its rule (`us`, `eu`, `au`, `nz`, or none).
pub(crate) fn city_offset(city: &City, unix: i64) -> i32 {
    let std = city.utc_offset_minutes;
    let local_std = unix + i64::from(std) * 60;
    let year = Date::from_days(local_std.div_euclid(86_400)).year;
    let at = |d: Date, hour: i64| d.to_days() * 86_400 + hour * 3600;
    const SUNDAY: usize = 6;
    let dst = match city.dst.as_str() {
        // Second Sunday of March 02:00 to first Sunday of November 02:00 daylight (01:00
        // standard), local.
        "us" => {
            let start = at(nth_weekday(year, 3, SUNDAY, 2), 2);
            let end = at(nth_weekday(year, 11, SUNDAY, 1), 1);
            local_std >= start && local_std < end
        }
        // Last Sunday of March to last Sunday of October, both at 01:00 UTC.
        "eu" => {
            let start = at(nth_weekday(year, 3, SUNDAY, 0), 1);
            let end = at(nth_weekday(year, 10, SUNDAY, 0), 1);
            unix >= start && unix < end
        }
        // Southern hemisphere: first Sunday of October 02:00 standard until the first Sunday
        // of April 03:00 daylight (02:00 standard).
        "au" => {
            let start = at(nth_weekday(year, 10, SUNDAY, 1), 2);
            let end = at(nth_weekday(year, 4, SUNDAY, 1), 2);
            local_std >= start || local_std < end
        }
        // Last Sunday of September 02:00 standard until the first Sunday of April 02:00
        // standard.
        "nz" => {
            let start = at(nth_weekday(year, 9, SUNDAY, 0), 2);
            let end = at(nth_weekday(year, 4, SUNDAY, 1), 2);
            local_std >= start || local_std < end
        }
        _ => false,
    };
    std + if dst { 60 } else { 0 }
}

/// The `current_datetime` tool.
#[derive(Debug)]
pub struct CurrentDatetime {
    spec: ToolSpec,
    clock: Clock,
}

impl CurrentDatetime {
    /// The tool reading `clock`.
    pub fn new(clock: Clock) -> Self {
        Self {
            spec: ToolSpec::new(
                "current_datetime",
                "Get the current date, time and weekday. Without arguments the answer is in \
                 UTC; give a time zone as a UTC offset (\"+08:00\", \"UTC-5\"), a city name \
                 (\"Tokyo\", \"上海\") or a time-zone name ending in a known city \
                 (\"Asia/Tokyo\") to get local time there, daylight saving included.",
                json!({
                    "type": "object",
                    "properties": {
                        "timezone": {
                            "type": "string",
                            "description": "A UTC offset such as \"+08:00\" or \"UTC-5\", a city name, or a zone name such as \"Asia/Tokyo\". Default: UTC."
                        }
                    },
                    "additionalProperties": false
                }),
            ),
            clock,
        }
    }
}

impl Tool for CurrentDatetime {
    fn spec(&self) -> &ToolSpec {
        &self.spec
    }

    fn call(&self, args: &Map<String, Value>) -> Result<String, ToolError> {
        let now = self.clock.now_unix();
        let (offset, zone) = match opt_str_arg(args, "timezone").map(str::trim) {
            None | Some("") => (0, "UTC".to_owned()),
            Some(tz) => {
                match parse_offset(tz) {
                    Some(o) => (o, format!("UTC{}", format_offset(o))),
                    None => {
                        // IANA names ("Asia/Shanghai", "America/New_York") end with a city.
                        let name = tz.rsplit('/').next().unwrap_or(tz);
                        let city = find_city(name).map_err(|e| {
                        ToolError::invalid(
                            "timezone",
                            format!("`{tz}` is neither a UTC offset like +08:00 nor a known city ({e})"),
                        )
                    })?;
                        (city_offset(city, now), city.name.clone())
                    }
                }
            }
        };
        let local = now + i64::from(offset) * 60;
        let date = Date::from_days(local.div_euclid(86_400));
        let secs = local.rem_euclid(86_400);
        let time = format!("{:02}:{:02}:{:02}", secs / 3600, secs / 60 % 60, secs % 60);
        ordered(vec![
            (
                "datetime",
                json!(format!("{date}T{time}{}", format_offset(offset))),
            ),
            ("date", json!(date.to_string())),
            ("time", json!(time)),
            ("weekday", json!(date.weekday_name())),
            ("timezone", json!(zone)),
            ("utc_offset", json!(format_offset(offset))),
        ])
    }
}

fn date_arg(args: &Map<String, Value>, name: &str) -> Result<Date, ToolError> {
    Date::parse(str_arg(args, name)?).map_err(|e| ToolError::invalid(name, e))
}

fn date_schema(description: &str) -> Value {
    json!({
        "type": "string",
        "description": description,
        "pattern": "^\\d{4}-\\d{2}-\\d{2}$"
    })
}

/// The `date_add` tool.
#[derive(Debug)]
pub struct DateAdd {
    spec: ToolSpec,
}

impl Default for DateAdd {
    fn default() -> Self {
        Self::new()
    }
}

impl DateAdd {
    /// The tool with its spec.
    pub fn new() -> Self {
        let int = |what: &str, bound: i64| json!({"type": "integer", "minimum": -bound, "maximum": bound, "description": what});
        Self {
            spec: ToolSpec::new(
                "date_add",
                "Add (or, with negative numbers, subtract) years, months, weeks and days to a \
                 date and return the new date with its weekday. Months and years keep the day \
                 of month, clamped to the month's end (2024-01-31 plus 1 month is 2024-02-29).",
                json!({
                    "type": "object",
                    "properties": {
                        "date": date_schema("The start date, YYYY-MM-DD."),
                        "years": int("Years to add.", 1000),
                        "months": int("Months to add.", 12_000),
                        "weeks": int("Weeks to add.", 50_000),
                        "days": int("Days to add.", 400_000)
                    },
                    "required": ["date"],
                    "additionalProperties": false
                }),
            ),
        }
    }
}

impl Tool for DateAdd {
    fn spec(&self) -> &ToolSpec {
        &self.spec
    }

    fn call(&self, args: &Map<String, Value>) -> Result<String, ToolError> {
        let start = date_arg(args, "date")?;
        let years = opt_int_arg(args, "years")?.unwrap_or(0);
        let months = opt_int_arg(args, "months")?.unwrap_or(0);
        let weeks = opt_int_arg(args, "weeks")?.unwrap_or(0);
        let days = opt_int_arg(args, "days")?.unwrap_or(0);
        let out = start
            .add_months(years.saturating_mul(12).saturating_add(months))
            .and_then(|d| d.add_days(weeks.saturating_mul(7).saturating_add(days)))
            .map_err(ToolError::Failed)?;
        ordered(vec![
            ("start_date", json!(start.to_string())),
            ("date", json!(out.to_string())),
            ("weekday", json!(out.weekday_name())),
        ])
    }
}

/// The `date_diff` tool.
#[derive(Debug)]
pub struct DateDiff {
    spec: ToolSpec,
}

impl Default for DateDiff {
    fn default() -> Self {
        Self::new()
    }
}

impl DateDiff {
    /// The tool with its spec.
    pub fn new() -> Self {
        Self {
            spec: ToolSpec::new(
                "date_diff",
                "Count the days from one date to another (negative when the end is earlier), \
                 also as whole weeks plus days, and the number of working days (Monday to \
                 Friday, holidays not considered) from the start date up to but excluding the \
                 end date.",
                json!({
                    "type": "object",
                    "properties": {
                        "start_date": date_schema("The first date, YYYY-MM-DD."),
                        "end_date": date_schema("The second date, YYYY-MM-DD.")
                    },
                    "required": ["start_date", "end_date"],
                    "additionalProperties": false
                }),
            ),
        }
    }
}

/// Monday-to-Friday days in [start, end) (counted backwards, negative, when end < start).
fn working_days(start: Date, end: Date) -> i64 {
    let (a, b, sign) = if start <= end {
        (start.to_days(), end.to_days(), 1)
    } else {
        (end.to_days(), start.to_days(), -1)
    };
    let n = b - a;
    let full_weeks = n / 7;
    let mut count = full_weeks * 5;
    let mut day = a + full_weeks * 7;
    while day < b {
        if (day + 3).rem_euclid(7) < 5 {
            count += 1;
        }
        day += 1;
    }
    sign * count
}

impl Tool for DateDiff {
    fn spec(&self) -> &ToolSpec {
        &self.spec
    }

    fn call(&self, args: &Map<String, Value>) -> Result<String, ToolError> {
        let start = date_arg(args, "start_date")?;
        let end = date_arg(args, "end_date")?;
        let days = end.to_days() - start.to_days();
        ordered(vec![
            ("start_date", json!(start.to_string())),
            ("end_date", json!(end.to_string())),
            ("days", json!(days)),
            ("weeks", json!(days / 7)),
            ("remaining_days", json!(days % 7)),
            ("working_days", json!(working_days(start, end))),
        ])
    }
}

/// The `weekday` tool.
#[derive(Debug)]
pub struct Weekday {
    spec: ToolSpec,
}

impl Default for Weekday {
    fn default() -> Self {
        Self::new()
    }
}

impl Weekday {
    /// The tool with its spec.
    pub fn new() -> Self {
        Self {
            spec: ToolSpec::new(
                "weekday",
                "Tell which day of the week a date falls on, with its day of the year and ISO \
                 week number.",
                json!({
                    "type": "object",
                    "properties": {"date": date_schema("The date, YYYY-MM-DD.")},
                    "required": ["date"],
                    "additionalProperties": false
                }),
            ),
        }
    }
}

impl Tool for Weekday {
    fn spec(&self) -> &ToolSpec {
        &self.spec
    }

    fn call(&self, args: &Map<String, Value>) -> Result<String, ToolError> {
        let date = date_arg(args, "date")?;
        let i = date.weekday_index();
        let (week_year, week) = date.iso_week();
        ordered(vec![
            ("date", json!(date.to_string())),
            ("weekday", json!(WEEKDAYS[i])),
            ("weekday_zh", json!(WEEKDAYS_ZH[i])),
            ("iso_weekday", json!(i + 1)),
            ("is_weekend", json!(i >= 5)),
            ("day_of_year", json!(date.day_of_year())),
            ("iso_week", json!(week)),
            ("iso_week_year", json!(week_year)),
        ])
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use super::*;

    #[test]
    fn name_tables_agree_with_the_calendar() {
        // 2024-01-01 was a Monday.
        assert_eq!(WEEKDAYS[d("2024-01-01").weekday_index()], "Monday");
        assert_eq!(weekday_zh("Sunday"), Some("星期日"));
        assert_eq!(weekday_zh("Funday"), None);
        assert_eq!(MONTHS[11], "December");
    }

    fn d(s: &str) -> Date {
        Date::parse(s).unwrap()
    }

    fn args(v: Value) -> Map<String, Value> {
        v.as_object().unwrap().clone()
    }

    fn out(tool: &dyn Tool, v: Value) -> Value {
        serde_json::from_str(&tool.call(&args(v)).unwrap()).unwrap()
    }

    #[test]
    fn day_numbers_round_trip_and_weekdays_are_right() {
        assert_eq!(d("1970-01-01").to_days(), 0);
        assert_eq!(d("2000-03-01").to_days(), 11_017);
        assert_eq!(d("1969-12-31").to_days(), -1);
        for n in (-800_000..3_000_000).step_by(997) {
            let date = Date::from_days(n);
            assert_eq!(date.to_days(), n, "{date}");
        }
        assert_eq!(d("2024-02-29").weekday_name(), "Thursday");
        assert_eq!(d("2000-01-01").weekday_name(), "Saturday");
        assert_eq!(d("2026-12-25").weekday_name(), "Friday");
        assert_eq!(d("1949-10-01").weekday_name(), "Saturday");
    }

    #[test]
    fn parsing_accepts_common_forms_and_rejects_bad_dates() {
        assert_eq!(d("2026/3/14"), d("2026-03-14"));
        assert_eq!(d("2026年3月14日"), d("2026-03-14"));
        assert!(
            Date::parse("2023-02-29")
                .unwrap_err()
                .contains("has no day 29")
        );
        assert!(Date::parse("2026-13-01").unwrap_err().contains("month 13"));
        assert!(
            Date::parse("tomorrow")
                .unwrap_err()
                .contains("current_datetime")
        );
        assert!(Date::parse("14/03/2026").is_err());
        assert!(Date::parse("").is_err());
    }

    #[test]
    fn month_arithmetic_clamps() {
        assert_eq!(d("2024-01-31").add_months(1).unwrap(), d("2024-02-29"));
        assert_eq!(d("2023-01-31").add_months(1).unwrap(), d("2023-02-28"));
        assert_eq!(d("2024-02-29").add_months(12).unwrap(), d("2025-02-28"));
        assert_eq!(d("2026-03-14").add_months(-3).unwrap(), d("2025-12-14"));
        assert!(d("9999-12-01").add_months(1).is_err());
        assert!(d("2026-01-01").add_months(i64::MAX).is_err());
        assert!(d("2026-01-01").add_months(i64::MIN).is_err());
        assert!(d("2026-01-01").add_days(i64::MAX).is_err());
        assert!(d("2026-01-01").add_days(i64::MIN).is_err());
        assert_eq!(d("9999-12-30").add_days(1).unwrap(), d("9999-12-31"));
        let _ = Date::from_days(i64::MAX);
        let _ = Date::from_days(i64::MIN);
        assert!(d("0001-01-01").add_days(-1).is_err());
    }

    #[test]
    fn iso_weeks() {
        assert_eq!(d("2021-01-03").iso_week(), (2020, 53));
        assert_eq!(d("2021-01-04").iso_week(), (2021, 1));
        assert_eq!(d("2026-12-31").iso_week(), (2026, 53));
        assert_eq!(d("2024-12-30").iso_week(), (2025, 1));
    }

    #[test]
    fn tools_answer() {
        let o = out(&DateAdd::new(), json!({"date": "2026-03-14", "days": 100}));
        assert_eq!(o["date"], "2026-06-22");
        assert_eq!(o["weekday"], "Monday");
        let o = out(
            &DateAdd::new(),
            json!({"date": "2026-03-14", "years": -1, "weeks": 2}),
        );
        assert_eq!(o["date"], "2025-03-28");
        let o = out(
            &DateDiff::new(),
            json!({"start_date": "2026-03-14", "end_date": "2026-10-01"}),
        );
        assert_eq!(o["days"], 201);
        assert_eq!(o["weeks"], 28);
        assert_eq!(o["remaining_days"], 5);
        let o = out(
            &DateDiff::new(),
            json!({"start_date": "2026-03-16", "end_date": "2026-03-30"}),
        );
        assert_eq!(o["working_days"], 10);
        let o = out(
            &DateDiff::new(),
            json!({"start_date": "2026-03-30", "end_date": "2026-03-16"}),
        );
        assert_eq!(o["days"], -14);
        assert_eq!(o["working_days"], -10);
        let o = out(&Weekday::new(), json!({"date": "2026-10-01"}));
        assert_eq!(o["weekday"], "Thursday");
        assert_eq!(o["weekday_zh"], "星期四");
        assert_eq!(o["is_weekend"], false);
        assert_eq!(o["day_of_year"], 274);
    }

    #[test]
    fn bad_dates_are_argument_errors() {
        let err = DateAdd::new()
            .call(&args(json!({"date": "2026-02-30", "days": 1})))
            .unwrap_err();
        assert!(
            matches!(&err, ToolError::InvalidArgument { argument, .. } if argument == "date"),
            "{err}"
        );
        let err = DateAdd::new()
            .call(&args(json!({"date": "9999-12-31", "days": 1})))
            .unwrap_err();
        assert!(err.to_string().contains("outside"), "{err}");
    }

    #[test]
    fn clock_and_time_zones() {
        let clock = Clock::fixed("2026-03-14T09:30:00Z").unwrap();
        assert_eq!(clock, Clock::fixed("2026-03-14T17:30:00+08:00").unwrap());
        assert_eq!(Clock::fixed("2026-03-14").unwrap().now_unix() % 86_400, 0);
        assert!(Clock::fixed("2026-03-14T09:30:00").is_err());
        let tool = CurrentDatetime::new(clock.clone());
        let o = out(&tool, json!({}));
        assert_eq!(o["datetime"], "2026-03-14T09:30:00+00:00");
        assert_eq!(o["weekday"], "Saturday");
        let o = out(&tool, json!({"timezone": "UTC+8"}));
        assert_eq!(o["datetime"], "2026-03-14T17:30:00+08:00");
        let o = out(&tool, json!({"timezone": "-05:30"}));
        assert_eq!(o["time"], "04:00:00");
        let o = out(&tool, json!({"timezone": "上海"}));
        assert_eq!(o["time"], "17:30:00");
        assert_eq!(o["timezone"], "Shanghai");
        // 2026-03-14 is after the US switch (March 8) and before the EU one (March 29).
        let o = out(&tool, json!({"timezone": "New York"}));
        assert_eq!(o["utc_offset"], "-04:00");
        let o = out(&tool, json!({"timezone": "America/New_York"}));
        assert_eq!(o["utc_offset"], "-04:00");
        assert_eq!(o["timezone"], "New York");
        let o = out(&tool, json!({"timezone": "London"}));
        assert_eq!(o["utc_offset"], "+00:00");
        let o = out(&tool, json!({"timezone": "Sydney"}));
        assert_eq!(o["utc_offset"], "+11:00");
        let summer = CurrentDatetime::new(Clock::fixed("2026-07-01T12:00:00Z").unwrap());
        let o = out(&summer, json!({"timezone": "Paris"}));
        assert_eq!(o["utc_offset"], "+02:00");
        let o = out(&summer, json!({"timezone": "Sydney"}));
        assert_eq!(o["utc_offset"], "+10:00");
        let err = tool
            .call(&args(json!({"timezone": "Atlantis"})))
            .unwrap_err();
        assert!(err.to_string().contains("neither a UTC offset"), "{err}");
    }
}
