//! The string grammar of label selectors, as apimachinery's `labels.Parse` lexes and parses it,
//! with the same error wording.

use super::SelectorError;
use super::label::{Operator, Requirement};
use super::validation::{invalid, qualified_name_errors};

/// The requirements of a selector string, in written order.
pub(super) fn parse(s: &str) -> Result<Vec<Requirement>, SelectorError> {
    Parser {
        tokens: lex(s),
        pos: 0,
    }
    .parse()
}

#[derive(Debug, Clone, PartialEq, Eq)]
enum Token {
    Identifier(String),
    In,
    NotIn,
    Equals,
    DoubleEquals,
    NotEquals,
    GreaterThan,
    LessThan,
    Bang,
    Comma,
    OpenPar,
    ClosedPar,
    End,
    Error(String),
}

impl Token {
    /// The literal text, as quoted in error messages.
    fn literal(&self) -> String {
        match self {
            Token::Identifier(s) | Token::Error(s) => s.clone(),
            Token::In => "in".into(),
            Token::NotIn => "notin".into(),
            Token::Equals => "=".into(),
            Token::DoubleEquals => "==".into(),
            Token::NotEquals => "!=".into(),
            Token::GreaterThan => ">".into(),
            Token::LessThan => "<".into(),
            Token::Bang => "!".into(),
            Token::Comma => ",".into(),
            Token::OpenPar => "(".into(),
            Token::ClosedPar => ")".into(),
            Token::End => String::new(),
        }
    }
}

fn is_special(c: char) -> bool {
    matches!(c, '=' | '!' | '(' | ')' | ',' | '>' | '<')
}

fn is_space(c: char) -> bool {
    matches!(c, ' ' | '\t' | '\r' | '\n')
}

fn symbol(s: &str) -> Option<Token> {
    Some(match s {
        ")" => Token::ClosedPar,
        "," => Token::Comma,
        "!" => Token::Bang,
        "==" => Token::DoubleEquals,
        "=" => Token::Equals,
        ">" => Token::GreaterThan,
        "<" => Token::LessThan,
        "!=" => Token::NotEquals,
        "(" => Token::OpenPar,
        _ => return None,
    })
}

/// Splits the input the way apimachinery's lexer does: runs of special symbols are matched
/// greedily against the operator table, everything else up to a space or symbol is an
/// identifier (or the keywords `in`/`notin`).
fn lex(s: &str) -> Vec<Token> {
    let chars: Vec<char> = s.chars().collect();
    let mut tokens = Vec::new();
    let mut i = 0;
    loop {
        while i < chars.len() && is_space(chars[i]) {
            i += 1;
        }
        if i >= chars.len() {
            tokens.push(Token::End);
            return tokens;
        }
        if is_special(chars[i]) {
            let mut buf = String::new();
            let mut last: Option<(Token, usize)> = None;
            while i < chars.len() && is_special(chars[i]) {
                buf.push(chars[i]);
                if let Some(t) = symbol(&buf) {
                    last = Some((t, i + 1));
                } else if last.is_some() {
                    break;
                }
                i += 1;
            }
            match last {
                Some((t, end)) => {
                    tokens.push(t);
                    i = end;
                }
                None => {
                    tokens.push(Token::Error(format!(
                        "error expected: keyword found '{buf}'"
                    )));
                    tokens.push(Token::End);
                    return tokens;
                }
            }
        } else {
            let start = i;
            while i < chars.len() && !is_special(chars[i]) && !is_space(chars[i]) {
                i += 1;
            }
            let word: String = chars[start..i].iter().collect();
            tokens.push(match word.as_str() {
                "in" => Token::In,
                "notin" => Token::NotIn,
                _ => Token::Identifier(word),
            });
        }
    }
}

struct Parser {
    tokens: Vec<Token>,
    pos: usize,
}

/// Whether the keywords count as identifiers (in value positions they do).
#[derive(Clone, Copy, PartialEq)]
enum Context {
    KeyAndOperator,
    Values,
}

const BINARY_OPERATORS: &str = "in, notin, =, ==, !=, gt, lt";

impl Parser {
    fn peek(&self, ctx: Context) -> Token {
        let t = self.tokens.get(self.pos).cloned().unwrap_or(Token::End);
        Self::in_context(t, ctx)
    }

    fn next(&mut self, ctx: Context) -> Token {
        let t = self.peek(ctx);
        if self.pos < self.tokens.len() {
            self.pos += 1;
        }
        t
    }

    fn in_context(t: Token, ctx: Context) -> Token {
        match (ctx, t) {
            (Context::Values, Token::In) => Token::Identifier("in".into()),
            (Context::Values, Token::NotIn) => Token::Identifier("notin".into()),
            (_, t) => t,
        }
    }

    fn parse(&mut self) -> Result<Vec<Requirement>, SelectorError> {
        let mut out = Vec::new();
        loop {
            match self.peek(Context::Values) {
                Token::Identifier(_) | Token::Bang => {
                    let r = self.requirement().map_err(|e| {
                        SelectorError::Parse(format!("unable to parse requirement: {e}"))
                    })?;
                    out.push(r);
                    match self.next(Context::Values) {
                        Token::End => return Ok(out),
                        Token::Comma => match self.peek(Context::Values) {
                            Token::Identifier(_) | Token::Bang => {}
                            t => {
                                return Err(SelectorError::Parse(format!(
                                    "found '{}', expected: identifier after ','",
                                    t.literal()
                                )));
                            }
                        },
                        t => {
                            return Err(SelectorError::Parse(format!(
                                "found '{}', expected: ',' or 'end of string'",
                                t.literal()
                            )));
                        }
                    }
                }
                Token::End => return Ok(out),
                t => {
                    return Err(SelectorError::Parse(format!(
                        "found '{}', expected: !, identifier, or 'end of string'",
                        t.literal()
                    )));
                }
            }
        }
    }

    /// One requirement; errors are returned without the "unable to parse requirement" prefix.
    fn requirement(&mut self) -> Result<Requirement, String> {
        let mut tok = self.next(Context::Values);
        let mut negated = false;
        if tok == Token::Bang {
            negated = true;
            tok = self.next(Context::Values);
        }
        let Token::Identifier(key) = tok else {
            return Err(format!("found '{}', expected: identifier", tok.literal()));
        };
        let key_errs = qualified_name_errors(&key);
        if !key_errs.is_empty() {
            return Err(invalid("<nil>", &key, &key_errs));
        }
        let at_end = matches!(self.peek(Context::Values), Token::End | Token::Comma);
        if negated || at_end {
            let op = if negated {
                Operator::DoesNotExist
            } else {
                Operator::Exists
            };
            return Requirement::new(&key, op, Vec::new(), "<nil>").map_err(inner);
        }
        let operator = match self.next(Context::KeyAndOperator) {
            Token::In => Operator::In,
            Token::NotIn => Operator::NotIn,
            Token::Equals => Operator::Equals,
            Token::DoubleEquals => Operator::DoubleEquals,
            Token::NotEquals => Operator::NotEquals,
            Token::GreaterThan => Operator::GreaterThan,
            Token::LessThan => Operator::LessThan,
            t => {
                return Err(format!(
                    "found '{}', expected: {BINARY_OPERATORS}",
                    t.literal()
                ));
            }
        };
        let values = match operator {
            Operator::In | Operator::NotIn => self.set_values()?,
            _ => self.exact_value()?,
        };
        Requirement::new(&key, operator, values, "<nil>").map_err(inner)
    }

    fn exact_value(&mut self) -> Result<Vec<String>, String> {
        match self.peek(Context::Values) {
            Token::End | Token::Comma => Ok(vec![String::new()]),
            _ => match self.next(Context::Values) {
                Token::Identifier(v) => Ok(vec![v]),
                t => Err(format!("found '{}', expected: identifier", t.literal())),
            },
        }
    }

    fn set_values(&mut self) -> Result<Vec<String>, String> {
        let t = self.next(Context::Values);
        if t != Token::OpenPar {
            return Err(format!("found '{}' expected: '('", t.literal()));
        }
        match self.peek(Context::Values) {
            Token::Identifier(_) | Token::Comma => {
                let values = self.identifier_list()?;
                match self.next(Context::Values) {
                    Token::ClosedPar => Ok(values),
                    t => Err(format!("found '{}', expected: ')'", t.literal())),
                }
            }
            Token::ClosedPar => {
                self.next(Context::Values);
                Ok(vec![String::new()])
            }
            t => Err(format!(
                "found '{}', expected: ',', ')' or identifier",
                t.literal()
            )),
        }
    }

    /// The comma-separated values inside `( )`; empty slots (`(a,,b)`, `(,a)`) are `""`.
    fn identifier_list(&mut self) -> Result<Vec<String>, String> {
        let mut values: Vec<String> = Vec::new();
        loop {
            match self.next(Context::Values) {
                Token::Identifier(v) => {
                    values.push(v);
                    match self.peek(Context::Values) {
                        Token::Comma => continue,
                        Token::ClosedPar => return Ok(values),
                        t => return Err(format!("found '{}', expected: ',' or ')'", t.literal())),
                    }
                }
                Token::Comma => {
                    if values.is_empty() {
                        values.push(String::new());
                    }
                    match self.peek(Context::Values) {
                        Token::ClosedPar => {
                            values.push(String::new());
                            return Ok(values);
                        }
                        Token::Comma => {
                            self.next(Context::Values);
                            values.push(String::new());
                        }
                        _ => {}
                    }
                }
                t => {
                    return Err(format!(
                        "found '{}', expected: ',', or identifier",
                        t.literal()
                    ));
                }
            }
        }
    }
}

fn inner(e: SelectorError) -> String {
    match e {
        SelectorError::Parse(m) | SelectorError::UnsupportedField(m) => m,
    }
}
