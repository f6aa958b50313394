//! Decimal amounts from the text of a JSON number, exactly: `12.99` in a currency with two
//! decimals is 1299 minor units, computed from the digits, never through `f64`.

use serde::{Deserialize, Serialize};

use crate::money::{Currency, Money};

/// What to do with more decimals than the currency has (`12.995` US dollars).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Rounding {
    /// Refuse the message (the default): an amount is data, not an estimate.
    #[default]
    Refuse,
    /// Round half to even (banker's rounding): `12.995` → `13.00`, `12.985` → `12.98`.
    HalfEven,
}

/// Why a number is not an amount.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum AmountError {
    /// Not a JSON number.
    #[error("not a number")]
    NotANumber,
    /// More decimals than the currency has, and rounding was not asked for.
    #[error("more than {max} decimals")]
    TooPrecise {
        /// The currency's decimals.
        max: u8,
    },
    /// Out of the range of minor units.
    #[error("out of range")]
    Overflow,
}

/// The amount in `currency` that the JSON number `text` denotes.
pub(crate) fn parse(
    text: &str,
    currency: Currency,
    rounding: Rounding,
) -> Result<Money, AmountError> {
    let bytes = text.as_bytes();
    let mut i = 0;
    let negative = bytes.first() == Some(&b'-');
    if negative {
        i += 1;
    }
    let digits_from = |mut i: usize| {
        let start = i;
        while bytes.get(i).is_some_and(u8::is_ascii_digit) {
            i += 1;
        }
        (start, i)
    };
    let (int_start, int_end) = digits_from(i);
    if int_start == int_end || (int_end - int_start > 1 && bytes.get(int_start) == Some(&b'0')) {
        return Err(AmountError::NotANumber);
    }
    i = int_end;
    let (mut frac_start, mut frac_end) = (i, i);
    if bytes.get(i) == Some(&b'.') {
        (frac_start, frac_end) = digits_from(i + 1);
        if frac_start == frac_end {
            return Err(AmountError::NotANumber);
        }
        i = frac_end;
    }
    let mut exponent: i64 = 0;
    if matches!(bytes.get(i), Some(b'e' | b'E')) {
        i += 1;
        let exp_negative = match bytes.get(i) {
            Some(b'-') => {
                i += 1;
                true
            }
            Some(b'+') => {
                i += 1;
                false
            }
            _ => false,
        };
        let (s, e) = digits_from(i);
        if s == e {
            return Err(AmountError::NotANumber);
        }
        let digits = text.get(s..e).ok_or(AmountError::NotANumber)?;
        // Anything beyond this many digits of exponent is out of range or zero.
        let value: i64 = digits.parse().unwrap_or(i64::MAX / 4).min(i64::MAX / 4);
        exponent = if exp_negative { -value } else { value };
        i = e;
    }
    if i != bytes.len() {
        return Err(AmountError::NotANumber);
    }
    let decimals = i64::from(currency.exponent());
    // The value is digits × 10^(exponent − fraction length); minor units shift by the
    // currency's decimals.
    let fraction_len = i64::try_from(frac_end - frac_start).map_err(|_| AmountError::Overflow)?;
    let shift = exponent
        .saturating_sub(fraction_len)
        .saturating_add(decimals);
    let mut digits: Vec<u8> = Vec::with_capacity(int_end - int_start + frac_end - frac_start);
    digits.extend(
        bytes
            .get(int_start..int_end)
            .unwrap_or_default()
            .iter()
            .map(|b| b - b'0'),
    );
    digits.extend(
        bytes
            .get(frac_start..frac_end)
            .unwrap_or_default()
            .iter()
            .map(|b| b - b'0'),
    );
    let leading = digits.iter().take_while(|&&d| d == 0).count();
    digits.drain(..leading.min(digits.len().saturating_sub(1)));
    let zero = digits.iter().all(|&d| d == 0);
    let mut minor: i128 = 0;
    let push = |minor: i128, d: u8| {
        minor
            .checked_mul(10)
            .and_then(|m| m.checked_add(i128::from(d)))
            .ok_or(AmountError::Overflow)
    };
    if shift >= 0 {
        if !zero && shift > 40 {
            return Err(AmountError::Overflow);
        }
        for &d in &digits {
            minor = push(minor, d)?;
        }
        for _ in 0..shift.min(40) {
            minor = push(minor, 0)?;
        }
    } else {
        // `-shift` digits fall below a minor unit.
        let cut = usize::try_from(-shift).unwrap_or(usize::MAX);
        let keep = digits.len().saturating_sub(cut);
        let (kept, dropped) = digits.split_at(keep);
        if dropped.iter().any(|&d| d != 0) && rounding == Rounding::Refuse {
            return Err(AmountError::TooPrecise {
                max: currency.exponent(),
            });
        }
        for &d in kept {
            minor = push(minor, d)?;
        }
        // Half to even: the first dropped digit decides, then the rest, then parity.
        let beyond = cut.saturating_sub(digits.len()) > 0;
        let first = if beyond {
            0
        } else {
            dropped.first().copied().unwrap_or(0)
        };
        let rest_nonzero = !beyond && dropped.iter().skip(1).any(|&d| d != 0);
        let up = first > 5 || (first == 5 && (rest_nonzero || minor % 2 == 1));
        if up {
            minor = minor.checked_add(1).ok_or(AmountError::Overflow)?;
        }
    }
    if negative {
        minor = -minor;
    }
    let minor = i64::try_from(minor).map_err(|_| AmountError::Overflow)?;
    Ok(Money::new(minor, currency))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn usd(text: &str, rounding: Rounding) -> Result<i64, AmountError> {
        parse(text, Currency::new("USD").unwrap(), rounding).map(|m| m.minor)
    }

    #[test]
    fn exact_from_the_text() {
        for (text, minor) in [
            ("12.99", 1299),
            ("12.9", 1290),
            ("12", 1200),
            ("0.01", 1),
            ("-3.5", -350),
            ("1.299e1", 1299),
            ("1299E-2", 1299),
            ("0", 0),
            ("0.000", 0),
            ("92233720368547758.07", i64::MAX),
        ] {
            assert_eq!(usd(text, Rounding::Refuse), Ok(minor), "{text}");
        }
        let jpy = Currency::new("JPY").unwrap();
        assert_eq!(parse("1200", jpy, Rounding::Refuse).unwrap().minor, 1200);
        assert!(parse("1200.5", jpy, Rounding::Refuse).is_err());
    }

    #[test]
    fn refused_or_rounded_half_to_even() {
        assert_eq!(
            usd("12.995", Rounding::Refuse),
            Err(AmountError::TooPrecise { max: 2 })
        );
        assert_eq!(
            usd("1e-400", Rounding::Refuse),
            Err(AmountError::TooPrecise { max: 2 })
        );
        assert_eq!(usd("12.995", Rounding::HalfEven), Ok(1300));
        assert_eq!(usd("12.985", Rounding::HalfEven), Ok(1298));
        assert_eq!(usd("12.9851", Rounding::HalfEven), Ok(1299));
        assert_eq!(usd("-12.995", Rounding::HalfEven), Ok(-1300));
        assert_eq!(usd("0.004", Rounding::HalfEven), Ok(0));
        assert_eq!(usd("1e-400", Rounding::HalfEven), Ok(0));
    }

    #[test]
    fn not_numbers_and_out_of_range() {
        for text in [
            "", "-", "abc", "\"12\"", "1.", ".5", "01", "1e", "1e+", "12 ", "NaN", "1.2.3",
        ] {
            assert_eq!(
                usd(text, Rounding::Refuse),
                Err(AmountError::NotANumber),
                "{text:?}"
            );
        }
        for text in [
            "1e400",
            "92233720368547758.08",
            "99999999999999999999999999999999999999999",
        ] {
            assert_eq!(
                usd(text, Rounding::Refuse),
                Err(AmountError::Overflow),
                "{text}"
            );
        }
    }
}
