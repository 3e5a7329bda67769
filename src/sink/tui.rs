//! The terminal view of `gatelog live` (ratatui on crossterm): requests/s, 5xx rate,
//! latency quantiles, a sparkline per status, upstreams in error, the active incident with
//! its probable causes and evidence, the newest error lines. Every string shown has its
//! control characters escaped (log lines are attacker-controlled text).

use std::io;
use std::sync::atomic::{AtomicBool, Ordering};

use ratatui::crossterm::event::{self, Event, KeyCode, KeyEventKind, KeyModifiers};
use ratatui::layout::{Constraint, Direction, Layout, Rect};
use ratatui::style::{Color, Modifier, Style};
use ratatui::text::{Line, Span};
use ratatui::widgets::{Block, Borders, Paragraph, Sparkline, Wrap};
use ratatui::{DefaultTerminal, Frame};

use crate::analysis::report::Quantiles;

/// What the view shows; filled by `cmd::live` every interval.
#[derive(Clone, Debug, Default)]
pub struct View {
    pub title: String,
    pub time: String,
    pub window_label: String,
    pub paused: bool,
    pub rps: f64,
    pub rate_5xx: f64,
    pub window_requests: u64,
    pub window_rate_5xx: f64,
    pub latency: Quantiles,
    pub total_lines: u64,
    pub rejected_lines: u64,
    /// (status, count in the window, per-interval counts for the sparkline)
    pub status: Vec<(u16, u64, Vec<u64>)>,
    /// (upstream, 5xx, requests)
    pub upstreams: Vec<(String, u64, u64)>,
    /// (error kind, count) in the window
    pub events: Vec<(String, u64)>,
    pub incident: Option<IncidentView>,
    pub newest: Vec<String>,
    pub alerts: Vec<String>,
    pub notices: Vec<String>,
}

#[derive(Clone, Debug, Default)]
pub struct IncidentView {
    /// When the incident shown is over: its end.
    pub ended: Option<String>,
    pub since: String,
    pub status: String,
    pub errors: u64,
    /// (cause id, confidence, summary)
    pub causes: Vec<(String, f64, String)>,
    pub evidence: Vec<String>,
}

/// A key the view reacts to.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Key {
    Quit,
    Pause,
    /// Show the last N seconds.
    Window(i64),
    /// Back from a suspension (Ctrl-Z, then `fg`): the screen must be drawn whole again.
    Resumed,
}

pub fn window_label(s: i64) -> String {
    crate::analysis::report::fmt_duration_s(s)
}

/// Escape control characters (a log line must never drive the terminal).
pub fn clean(s: &str) -> String {
    if !s.chars().any(char::is_control) {
        return s.to_string();
    }
    crate::analysis::report::display_bytes(s.as_bytes())
}

/// Whether the terminal is in raw mode on the alternate screen (a [`Screen`] is up): the
/// panic hook and a signal arriving while the main thread is stuck restore it only then.
static ACTIVE: AtomicBool = AtomicBool::new(false);

/// Whether the terminal view is up.
pub fn active() -> bool {
    ACTIVE.load(Ordering::Acquire)
}

/// Give the terminal back to the shell: raw mode off, main screen, cursor shown. Safe to
/// call more than once and from any thread (each step is idempotent; errors are ignored:
/// there is nothing better to do with them on the way out).
pub fn restore_terminal() {
    use ratatui::crossterm::{cursor, execute, terminal};
    ACTIVE.store(false, Ordering::Release);
    // raw mode first: it has more side effects than the screen buffer
    let _ = terminal::disable_raw_mode();
    let _ = execute!(io::stdout(), terminal::LeaveAlternateScreen, cursor::Show);
}

/// Install a panic hook that first runs `restore` (the terminal, in the real program), then
/// the hook that was there before (the panic message, now on the main screen), then ends
/// the process with status 101 — also for a panic on a side thread (key reader, metrics
/// server), which would otherwise leave the main thread drawing on a restored terminal.
pub fn install_panic_hook(restore: fn()) {
    let prev = std::panic::take_hook();
    std::panic::set_hook(Box::new(move |info| {
        restore();
        prev(info);
        std::process::exit(101);
    }));
}

/// The terminal in raw mode on the alternate screen; restored when dropped, on panic (see
/// [`install_panic_hook`]) and on SIGTERM/SIGINT/SIGHUP (`cmd::live`).
pub struct Screen {
    term: DefaultTerminal,
}

impl Screen {
    pub fn start() -> io::Result<Screen> {
        // ratatui::try_init installs its own hook (raw mode and screen, not the cursor);
        // ours replaces it and chains to the hook that was there before
        let prev = std::panic::take_hook();
        let term = match ratatui::try_init() {
            Ok(t) => t,
            Err(e) => {
                std::panic::set_hook(prev);
                restore_terminal();
                return Err(e);
            }
        };
        let _ratatui_hook = std::panic::take_hook();
        std::panic::set_hook(prev);
        install_panic_hook(restore_if_active);
        ACTIVE.store(true, Ordering::Release);
        Ok(Screen { term })
    }

    pub fn draw(&mut self, v: &View) -> io::Result<()> {
        self.term.draw(|f| render(f, v)).map(|_| ())
    }
}

fn restore_if_active() {
    if active() {
        restore_terminal();
    }
}

/// Job control: give the terminal back to the shell, stop the process (SIGSTOP: the shell
/// sees a stopped job, as for Ctrl-Z anywhere else), and when continued (`fg`) take the
/// terminal again. In raw mode Ctrl-Z is a key, not a signal, so the key reader calls this;
/// a SIGTSTP from outside (`kill -TSTP`) does too (`cmd::live`). The caller redraws the whole
/// screen afterwards ([`Key::Resumed`], [`Screen::clear`]).
#[cfg(unix)]
pub fn suspend() {
    use ratatui::crossterm::{cursor, execute, terminal};
    let was = active();
    if was {
        restore_terminal();
    }
    // SAFETY: raise only sends a signal to this process; SIGSTOP cannot be caught, so no
    // handler of ours runs, and execution continues here on SIGCONT.
    unsafe {
        libc::raise(libc::SIGSTOP);
    }
    if was {
        let _ = terminal::enable_raw_mode();
        let _ = execute!(
            io::stdout(),
            terminal::EnterAlternateScreen,
            terminal::Clear(terminal::ClearType::All),
            cursor::Hide
        );
        ACTIVE.store(true, Ordering::Release);
    }
}

#[cfg(not(unix))]
pub fn suspend() {}

impl Screen {
    /// Forget what is on the screen so that the next draw paints everything (after a
    /// suspension the alternate screen comes back blank). A fresh `Terminal` has empty
    /// buffers; `Terminal::clear` would ask the terminal for the cursor position, which the
    /// key reader's pending read swallows (it timed out).
    pub fn clear(&mut self) -> io::Result<()> {
        self.term = ratatui::Terminal::new(ratatui::backend::CrosstermBackend::new(io::stdout()))?;
        Ok(())
    }
}

impl Drop for Screen {
    fn drop(&mut self) {
        restore_terminal();
        // the Terminal's own drop shows the cursor again too (already done)
    }
}

/// Read keys until `f` returns false; `None` is a resize.
pub fn read_keys(mut f: impl FnMut(Option<Key>) -> bool) {
    loop {
        let ev = match event::read() {
            Ok(e) => e,
            Err(_) => return,
        };
        let k = match ev {
            Event::Key(k) if k.kind != KeyEventKind::Release => {
                let ctrl = k.modifiers.contains(KeyModifiers::CONTROL);
                match k.code {
                    KeyCode::Char('c') if ctrl => Some(Key::Quit),
                    KeyCode::Char('z') if ctrl => {
                        suspend();
                        Some(Key::Resumed)
                    }
                    KeyCode::Char('q') | KeyCode::Char('Q') | KeyCode::Esc => Some(Key::Quit),
                    KeyCode::Char('p') | KeyCode::Char('P') | KeyCode::Char(' ') => {
                        Some(Key::Pause)
                    }
                    KeyCode::Char('1') => Some(Key::Window(60)),
                    KeyCode::Char('5') => Some(Key::Window(300)),
                    KeyCode::Char('f') | KeyCode::Char('F') | KeyCode::Char('0') => {
                        Some(Key::Window(900))
                    }
                    _ => None,
                }
            }
            Event::Resize(..) => {
                if !f(None) {
                    return;
                }
                continue;
            }
            _ => None,
        };
        if let Some(k) = k {
            if !f(Some(k)) {
                return;
            }
        }
    }
}

fn q(v: Option<f64>) -> String {
    match v {
        Some(x) if x < 1.0 => format!("{:.0}ms", x * 1000.0),
        Some(x) => format!("{x:.2}s"),
        None => "-".into(),
    }
}

fn pct(r: f64) -> String {
    format!("{:.1}%", r * 100.0)
}

fn thousands(n: u64) -> String {
    let s = n.to_string();
    let mut out = String::new();
    for (i, c) in s.chars().enumerate() {
        if i > 0 && (s.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(c);
    }
    out
}

/// Sum consecutive values so that `v` fits in `width` columns (the newest at the right).
fn fit(v: &[u64], width: usize) -> Vec<u64> {
    if width == 0 || v.len() <= width {
        return v.to_vec();
    }
    let per = v.len().div_ceil(width);
    let skip = v.len() % per;
    let mut out = Vec::new();
    if skip > 0 {
        out.push(v[..skip].iter().sum());
    }
    for c in v[skip..].chunks(per) {
        out.push(c.iter().sum());
    }
    out
}

pub fn render(f: &mut Frame<'_>, v: &View) {
    let area = f.area();
    let rows = Layout::default()
        .direction(Direction::Vertical)
        .constraints([
            Constraint::Length(4),
            Constraint::Length(7),
            Constraint::Min(6),
            Constraint::Length(8),
            Constraint::Length(1),
        ])
        .split(area);
    let bold = Style::default().add_modifier(Modifier::BOLD);
    let red = Style::default().fg(Color::Red).add_modifier(Modifier::BOLD);

    // header
    let mut title = format!(
        " gatelog live · {} · window {} · {} ",
        clean(&v.title),
        v.window_label,
        v.time
    );
    if v.paused {
        title.push_str("· PAUSED ");
    }
    let rate_style = if v.rate_5xx >= 0.05 || v.window_rate_5xx >= 0.05 {
        red
    } else {
        bold
    };
    let head = vec![
        Line::from(vec![
            Span::raw("requests/s "),
            Span::styled(format!("{:.1}", v.rps), bold),
            Span::raw("   5xx "),
            Span::styled(pct(v.rate_5xx), rate_style),
            Span::raw(format!(
                " (window {} of {} requests)",
                pct(v.window_rate_5xx),
                thousands(v.window_requests)
            )),
        ]),
        Line::from(vec![
            Span::raw("latency p50 "),
            Span::styled(q(v.latency.p50), bold),
            Span::raw("  p95 "),
            Span::styled(q(v.latency.p95), bold),
            Span::raw("  p99 "),
            Span::styled(q(v.latency.p99), bold),
            Span::raw(format!(
                "   lines {}  rejected {}",
                thousands(v.total_lines),
                thousands(v.rejected_lines)
            )),
        ]),
    ];
    f.render_widget(
        Paragraph::new(head).block(Block::default().borders(Borders::ALL).title(title)),
        rows[0],
    );

    // status sparklines
    let sblock = Block::default()
        .borders(Borders::ALL)
        .title(format!(" status in the last {} ", v.window_label));
    let inner = sblock.inner(rows[1]);
    f.render_widget(sblock, rows[1]);
    for (i, (code, n, spark)) in v.status.iter().enumerate().take(inner.height as usize) {
        let r = Rect {
            x: inner.x,
            y: inner.y + i as u16,
            width: inner.width,
            height: 1,
        };
        let cols = Layout::default()
            .direction(Direction::Horizontal)
            .constraints([Constraint::Length(16), Constraint::Min(1)])
            .split(r);
        let style = if *n > 0 && *code >= 500 {
            red
        } else {
            Style::default()
        };
        f.render_widget(
            Paragraph::new(Line::from(vec![
                Span::styled(format!("{code}"), bold),
                Span::styled(format!(" {:>10}", thousands(*n)), style),
            ])),
            cols[0],
        );
        let data = fit(spark, cols[1].width as usize);
        f.render_widget(
            Sparkline::default().data(&data).style(if *code >= 500 {
                Style::default().fg(Color::Red)
            } else {
                Style::default().fg(Color::Yellow)
            }),
            cols[1],
        );
    }

    // upstreams | incident
    let mid = Layout::default()
        .direction(Direction::Horizontal)
        .constraints([Constraint::Percentage(35), Constraint::Percentage(65)])
        .split(rows[2]);
    let mut ul: Vec<Line> = v
        .upstreams
        .iter()
        .map(|(u, e, r)| {
            Line::from(vec![
                Span::styled(format!("{:>7}", thousands(*e)), red),
                Span::raw(format!(" of {:<7} {}", thousands(*r), clean(u))),
            ])
        })
        .collect();
    if ul.is_empty() {
        ul.push(Line::from("none"));
    }
    if !v.events.is_empty() {
        ul.push(Line::from(""));
        ul.push(Line::styled("error events", bold));
        let mut ev = v.events.clone();
        ev.sort_by(|a, b| b.1.cmp(&a.1));
        for (k, n) in ev.iter().take(6) {
            ul.push(Line::from(format!("{:>7} {}", thousands(*n), clean(k))));
        }
    }
    f.render_widget(
        Paragraph::new(ul).block(
            Block::default()
                .borders(Borders::ALL)
                .title(" upstreams in error (5xx of requests) "),
        ),
        mid[0],
    );
    let mut il: Vec<Line> = Vec::new();
    match &v.incident {
        Some(inc) => {
            let (label, span) = match &inc.ended {
                None => ("ACTIVE INCIDENT", format!(" since {}", inc.since)),
                Some(end) => ("LAST INCIDENT", format!(" {} to {} (over)", inc.since, end)),
            };
            il.push(Line::from(vec![
                Span::styled(label, if inc.ended.is_none() { red } else { bold }),
                Span::raw(format!(
                    "{span} · {} errors · {}",
                    thousands(inc.errors),
                    clean(&inc.status)
                )),
            ]));
            for (i, (c, conf, summary)) in inc.causes.iter().enumerate() {
                let st = if i == 0 { red } else { bold };
                il.push(Line::from(vec![
                    Span::styled(format!("{} ({conf:.2})", clean(c)), st),
                    Span::raw(format!(" {}", clean(summary))),
                ]));
            }
            for e in &inc.evidence {
                il.push(Line::styled(
                    format!("  {}", clean(e)),
                    Style::default().fg(Color::DarkGray),
                ));
            }
        }
        None => il.push(Line::from("no active incident")),
    }
    for a in &v.alerts {
        il.push(Line::styled(format!("ALERT firing: {}", clean(a)), red));
    }
    f.render_widget(
        Paragraph::new(il)
            .wrap(Wrap { trim: false })
            .block(Block::default().borders(Borders::ALL).title(" incident ")),
        mid[1],
    );

    // newest error lines and notices
    let mut nl: Vec<Line> = v.newest.iter().map(|s| Line::from(clean(s))).collect();
    if nl.is_empty() {
        nl.push(Line::from("none in the window"));
    }
    for n in v.notices.iter().rev().take(2) {
        nl.push(Line::styled(clean(n), Style::default().fg(Color::Cyan)));
    }
    f.render_widget(
        Paragraph::new(nl).block(
            Block::default()
                .borders(Borders::ALL)
                .title(" newest error lines "),
        ),
        rows[3],
    );
    f.render_widget(
        Paragraph::new(" q quit · p pause · 1 / 5 / f window 1m / 5m / 15m"),
        rows[4],
    );
}

#[cfg(test)]
mod tests {
    use super::*;
    use ratatui::backend::TestBackend;
    use ratatui::Terminal;

    #[test]
    fn renders_figures_and_escapes_log_text() {
        let v = View {
            title: "1 input".into(),
            time: "10:00:00 UTC".into(),
            window_label: "5m".into(),
            rps: 12.0,
            rate_5xx: 0.25,
            window_requests: 1234,
            window_rate_5xx: 0.1,
            latency: Quantiles {
                p50: Some(0.012),
                p95: Some(0.5),
                p99: Some(2.5),
            },
            status: vec![(502, 42, vec![0, 1, 5, 40])],
            upstreams: vec![("10.0.0.1:9000".into(), 42, 100)],
            incident: Some(IncidentView {
                ended: None,
                since: "10:00".into(),
                status: "502×42".into(),
                errors: 42,
                causes: vec![("upstream_refused".into(), 0.9, "php-fpm down".into())],
                evidence: vec!["error.log:7: connect() failed \u{1b}[2J".into()],
            }),
            ..Default::default()
        };
        let mut t = Terminal::new(TestBackend::new(120, 32)).unwrap();
        t.draw(|f| render(f, &v)).unwrap();
        let buf = t.backend().buffer().clone();
        let text: String = buf
            .content()
            .chunks(120)
            .map(|r| r.iter().map(|c| c.symbol()).collect::<String>() + "\n")
            .collect();
        for want in [
            "requests/s 12.0",
            "25.0%",
            "1,234",
            "p50 12ms",
            "p99 2.50s",
            "502",
            "42",
            "10.0.0.1:9000",
            "upstream_refused (0.90)",
            "\\x1b[2J",
        ] {
            assert!(text.contains(want), "missing {want:?} in\n{text}");
        }
        assert!(!text.contains('\u{1b}'));
    }

    /// The panic hook restores the terminal before the panic message is printed, and a
    /// panic on a side thread ends the process (status 101) instead of leaving the main
    /// thread drawing. Run in a child process (the hook ends it): this same test, with
    /// `GATELOG_TUI_PANIC_CHILD` set, installs the hook and panics on a thread.
    #[test]
    fn panic_hook_restores_first_and_ends_the_process() {
        if std::env::var_os("GATELOG_TUI_PANIC_CHILD").is_some() {
            install_panic_hook(|| eprintln!("TERMINAL-RESTORED"));
            let _ = std::thread::spawn(|| panic!("boom on a side thread")).join();
            std::thread::sleep(std::time::Duration::from_secs(3));
            eprintln!("STILL-RUNNING");
            return;
        }
        let o = std::process::Command::new(std::env::current_exe().unwrap())
            .args([
                "--exact",
                // this test's path in the crate (it follows the module when it moves)
                &format!(
                    "{}::panic_hook_restores_first_and_ends_the_process",
                    module_path!().split_once("::").unwrap().1
                ),
                "--nocapture",
                "--test-threads=1",
            ])
            .env("GATELOG_TUI_PANIC_CHILD", "1")
            .output()
            .unwrap();
        let err = String::from_utf8_lossy(&o.stderr);
        assert_eq!(o.status.code(), Some(101), "{err}");
        let restored = err.find("TERMINAL-RESTORED");
        let message = err.find("boom on a side thread");
        assert!(
            restored.is_some() && message.is_some() && restored < message,
            "{err}"
        );
        assert!(!err.contains("STILL-RUNNING"), "{err}");
    }

    #[test]
    fn fit_keeps_totals() {
        let v: Vec<u64> = (1..=10).collect();
        let f = fit(&v, 4);
        assert_eq!(f.iter().sum::<u64>(), 55);
        assert!(f.len() <= 4);
        assert_eq!(fit(&v, 20), v);
    }
}
