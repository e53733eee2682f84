//! Exact money. Amounts are integer pico-USD (1e-12 USD) in an `i128`: fine enough for the
//! cheapest per-token cache-read prices in any public price list, wide enough that no ledger
//! can overflow, and never a float.

use serde::{Deserialize, Deserializer, Serialize, Serializer};
use std::fmt;

/// Decimal places carried by [`Money`].
pub const SCALE: u32 = 12;
const UNIT: i128 = 1_000_000_000_000;

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default)]
pub struct Money(i128);

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum MoneyError {
    #[error("`{0}` is not a number such as 0.0000025 or 2.5e-6")]
    NotDecimal(String),
    #[error("`{0}` cannot be represented exactly: amounts are exact to {SCALE} decimal places (one pico-dollar), and this one is finer")]
    TooPrecise(String),
    #[error("`{0}` is too large")]
    Overflow(String),
}

impl Money {
    pub const ZERO: Money = Money(0);

    pub const fn from_pico(pico: i128) -> Self {
        Money(pico)
    }

    pub const fn pico(self) -> i128 {
        self.0
    }

    pub fn is_zero(self) -> bool {
        self.0 == 0
    }

    /// Parses any JSON number, or the same text in a string, exactly: plain decimals
    /// (`"0.0000025"`, `"-3"`, `"12.5"`, `".5"`) and exponent forms (`1e-07`, `1.5E+3`, `-2e0`).
    /// A value finer than a pico-dollar is refused, never rounded.
    pub fn parse(s: &str) -> Result<Self, MoneyError> {
        let bad = || MoneyError::NotDecimal(s.to_string());
        let too_precise = || MoneyError::TooPrecise(s.to_string());
        let overflow = || MoneyError::Overflow(s.to_string());
        let t = s.trim();
        let (neg, unsigned) = match t.strip_prefix('-') {
            Some(rest) => (true, rest),
            None => (false, t.strip_prefix('+').unwrap_or(t)),
        };
        let (mantissa, exponent) = match unsigned.split_once(['e', 'E']) {
            Some((m, e)) => (m, Some(e)),
            None => (unsigned, None),
        };
        let (int_part, frac_part) = mantissa.split_once('.').unwrap_or((mantissa, ""));
        let all_digits = |p: &str| p.bytes().all(|b| b.is_ascii_digit());
        if (int_part.is_empty() && frac_part.is_empty())
            || !all_digits(int_part)
            || !all_digits(frac_part)
        {
            return Err(bad());
        }
        let exp: i64 = match exponent {
            None => 0,
            Some(e) => {
                let (eneg, edigits) = match e.strip_prefix('-') {
                    Some(rest) => (true, rest),
                    None => (false, e.strip_prefix('+').unwrap_or(e)),
                };
                if edigits.is_empty() || !all_digits(edigits) {
                    return Err(bad());
                }
                // An exponent too long for an i64 stands for a huge one: half the range, so
                // that adding the digit counts below cannot overflow, and any non-zero
                // mantissa then overflows or is too fine, as it would with the real value.
                let magnitude = match edigits.trim_start_matches('0') {
                    "" => 0,
                    d => d.parse::<i64>().unwrap_or(i64::MAX / 2).min(i64::MAX / 2),
                };
                if eneg {
                    -magnitude
                } else {
                    magnitude
                }
            }
        };
        // value = digits × 10^(exp − len(frac) + SCALE), with the digits' own trailing
        // zeros moved into the power so that only a non-zero last digit can be too fine.
        let digits = format!("{int_part}{frac_part}");
        let significant = digits.trim_start_matches('0');
        if significant.is_empty() {
            return Ok(Money::ZERO);
        }
        let trimmed = significant.trim_end_matches('0');
        let zeros = i64::try_from(significant.len() - trimmed.len()).map_err(|_| overflow())?;
        let frac_len = i64::try_from(frac_part.len()).map_err(|_| overflow())?;
        let power = exp
            .checked_sub(frac_len)
            .and_then(|p| p.checked_add(i64::from(SCALE)))
            .and_then(|p| p.checked_add(zeros))
            .ok_or_else(overflow)?;
        if power < 0 {
            return Err(too_precise());
        }
        let mut value: i128 = 0;
        for b in trimmed.bytes() {
            value = value
                .checked_mul(10)
                .and_then(|v| v.checked_add(i128::from(b - b'0')))
                .ok_or_else(overflow)?;
        }
        let scale = u32::try_from(power)
            .ok()
            .and_then(|p| 10i128.checked_pow(p))
            .ok_or_else(overflow)?;
        value = value.checked_mul(scale).ok_or_else(overflow)?;
        Ok(Money(if neg { -value } else { value }))
    }

    /// Price × count, exact. Saturates rather than wraps (unreachable for real token counts).
    pub fn times(self, count: u64) -> Money {
        Money(self.0.saturating_mul(i128::from(count)))
    }

    pub fn saturating_add(self, other: Money) -> Money {
        Money(self.0.saturating_add(other.0))
    }

    pub fn saturating_sub(self, other: Money) -> Money {
        Money(self.0.saturating_sub(other.0))
    }
}

impl std::ops::Add for Money {
    type Output = Money;
    fn add(self, rhs: Money) -> Money {
        self.saturating_add(rhs)
    }
}

impl std::iter::Sum for Money {
    fn sum<I: Iterator<Item = Money>>(iter: I) -> Money {
        iter.fold(Money::ZERO, |a, b| a + b)
    }
}

/// Shortest exact decimal: `0`, `0.0000025`, `-1.5`.
impl fmt::Display for Money {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let neg = self.0 < 0;
        let abs = self.0.unsigned_abs();
        let unit = UNIT.unsigned_abs();
        let int = abs / unit;
        let frac = abs % unit;
        if neg {
            f.write_str("-")?;
        }
        write!(f, "{int}")?;
        if frac != 0 {
            // Every response prices itself several times over: no allocation here.
            let mut digits = [b'0'; SCALE as usize + 1];
            digits[0] = b'.';
            let mut rest = frac as u64; // < 10^12
            for d in digits[1..].iter_mut().rev() {
                *d = b'0' + (rest % 10) as u8;
                rest /= 10;
            }
            let end = digits.iter().rposition(|&d| d != b'0').unwrap_or(0) + 1;
            f.write_str(std::str::from_utf8(&digits[..end]).map_err(|_| fmt::Error)?)?;
        }
        Ok(())
    }
}

/// Serialised as an exact JSON *number* (`"cost": 0.0000125`), as OpenRouter's `usage.cost` is.
/// Use [`DecimalString`] where the API wants a string.
impl Serialize for Money {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let raw = serde_json::value::RawValue::from_string(self.to_string())
            .map_err(serde::ser::Error::custom)?;
        raw.serialize(serializer)
    }
}

impl<'de> Deserialize<'de> for Money {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let raw: &serde_json::value::RawValue = Deserialize::deserialize(deserializer)?;
        let text = raw.get().trim_matches('"');
        Money::parse(text).map_err(serde::de::Error::custom)
    }
}

/// A price or amount written as a decimal string, as OpenRouter's `pricing` fields are.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct DecimalString(pub Money);

impl Serialize for DecimalString {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_str(&self.0)
    }
}

impl<'de> Deserialize<'de> for DecimalString {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let s = String::deserialize(deserializer)?;
        Money::parse(&s)
            .map(DecimalString)
            .map_err(serde::de::Error::custom)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_and_prints_exactly() {
        for s in [
            "0",
            "0.0000025",
            "3",
            "-1.5",
            "0.000000000001",
            "123456789.123",
        ] {
            assert_eq!(Money::parse(s).map(|m| m.to_string()), Ok(s.to_string()));
        }
        assert_eq!(
            Money::parse("0.0000025000").map(|m| m.pico()),
            Ok(2_500_000)
        );
        assert_eq!(Money::parse(".5").map(|m| m.to_string()), Ok("0.5".into()));
    }

    #[test]
    fn rejects_garbage_and_excess_precision() {
        assert!(matches!(
            Money::parse("abc"),
            Err(MoneyError::NotDecimal(_))
        ));
        assert!(matches!(Money::parse(""), Err(MoneyError::NotDecimal(_))));
        for s in [
            "1e", "e5", "1e+", "1.2.3", "1e5e5", "--1", "1 e5", "0x10", "1_000",
        ] {
            assert!(
                matches!(Money::parse(s), Err(MoneyError::NotDecimal(_))),
                "{s}"
            );
        }
        assert!(matches!(
            Money::parse("0.0000000000001"),
            Err(MoneyError::TooPrecise(_))
        ));
    }

    #[test]
    fn exponent_forms_are_exact() {
        for (s, pico) in [
            ("1e-07", 100_000),
            ("1E-7", 100_000),
            ("1.5E+3", 1_500_000_000_000_000),
            ("-2e0", -2_000_000_000_000),
            ("2.5e-6", 2_500_000),
            ("25e-7", 2_500_000),
            ("0.00025e-2", 2_500_000),
            ("1e-12", 1),
            ("10e-13", 1),
            ("0e-99999999999999999999", 0),
            ("0.0e5", 0),
            ("1e0012", 1_000_000_000_000_000_000_000_000),
            ("-0.5e1", -5_000_000_000_000),
        ] {
            assert_eq!(Money::parse(s).map(Money::pico), Ok(pico), "{s}");
        }
        for s in ["1e-13", "1.5e-12", "3e-99999999999999999999"] {
            assert!(
                matches!(Money::parse(s), Err(MoneyError::TooPrecise(_))),
                "{s}"
            );
        }
        for s in ["1e27", "9e99999999999999999999", "1e100000"] {
            assert!(
                matches!(Money::parse(s), Err(MoneyError::Overflow(_))),
                "{s}"
            );
        }
        let m: Money = serde_json::from_str("1e-07").unwrap_or_default();
        assert_eq!(m.to_string(), "0.0000001");
    }

    #[test]
    fn cost_is_exact_where_floats_are_not() {
        // 0.1 + 0.2 style drift: 3 tokens at $0.0000001 each is exactly $0.0000003.
        let p = Money::parse("0.0000001").unwrap_or_default();
        assert_eq!(p.times(3).to_string(), "0.0000003");
        let total: Money = [p.times(1), p.times(2)].into_iter().sum();
        assert_eq!(total, p.times(3));
    }

    #[test]
    fn serialises_as_json_number_and_string() {
        let m = Money::parse("0.0000125").unwrap_or_default();
        assert_eq!(serde_json::to_string(&m).ok(), Some("0.0000125".into()));
        assert_eq!(
            serde_json::to_string(&DecimalString(m)).ok(),
            Some("\"0.0000125\"".into())
        );
        let back: Money = serde_json::from_str("0.0000125").unwrap_or_default();
        assert_eq!(back, m);
    }
}
