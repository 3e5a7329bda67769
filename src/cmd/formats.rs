//! `gatelog formats`: every format with its layer and an example line.

use crate::exit::{Exit, UserError};
use gatelog_parsers::Format;

pub fn example(f: Format) -> &'static str {
    match f {
        Format::NginxAccess => r#"127.0.0.1 - - [23/Nov/2026:10:00:01 +0000] "GET /index.php HTTP/1.1" 504 167 "-" "curl/7.88.1" 5.001 0.000 - 5.001 unix:/run/php/www.sock 504"#,
        Format::NginxError => r#"2026/11/23 10:00:01 [error] 812#812: *4211 upstream timed out (110: Connection timed out) while reading response header from upstream, client: 127.0.0.1, server: _, request: "GET /index.php HTTP/1.1", upstream: "fastcgi://unix:/run/php/www.sock", host: "localhost""#,
        Format::FpmError => "[23-Nov-2026 10:00:00] WARNING: [pool www] server reached pm.max_children setting (5), consider raising it",
        Format::FpmSlow => "[23-Nov-2026 10:00:03]  [pool www] pid 1234 / script_filename = /srv/app/index.php / [0x00007f...] usleep() /srv/app/index.php:4",
        Format::FpmAccess => r#"127.0.0.1 - - 23/Nov/2026:10:00:01 +0000 "GET /index.php" 200 /srv/app/index.php 12.345 2048 8.10%"#,
        Format::Alb => r#"http 2026-11-23T10:00:01.000000Z app/my-lb/50dc6c495c0c9188 192.168.131.39:2817 - -1 -1 -1 503 - 34 366 "GET http://www.example.com:80/ HTTP/1.1" "curl/7.46.0" - - arn:aws:elasticloadbalancing:...:targetgroup/my-targets/73e2d6bc24d8a067 "Root=1-58337262-36d228ad5d99923122bbe354" "-" "-" 0 2026-11-23T10:00:01.000000Z "forward" "-" "-" "-" "-" "-" "-""#,
        Format::Elb => r#"2026-11-23T10:00:01.123456Z my-loadbalancer 192.168.131.39:2817 10.0.0.1:80 0.000073 0.001048 0.000057 200 200 0 29 "GET http://www.example.com:80/ HTTP/1.1" "curl/7.38.0" - -"#,
        Format::Slb => r#"{"__time__":"1795428001","status":"504","upstream_status":"-","request_time":"60.001","upstream_addr":"10.0.0.5:80","request_method":"GET","request_uri":"/api","client_ip":"1.2.3.4"}"#,
        Format::Haproxy => r#"Nov 23 10:00:01 lb haproxy[1234]: 127.0.0.1:50514 [23/Nov/2026:10:00:01.123] web be_nginx/<NOSRV> 0/-1/-1/-1/0 503 217 - - SC-- 1/1/0/0/0 0/0 "GET / HTTP/1.1""#,
        Format::Envoy => r#"[2026-11-23T10:00:01.310Z] "GET /api HTTP/1.1" 503 UF 0 91 5 - "10.0.35.28" "curl/7.88.1" "cc21d9b0-cf5c-432b-8c7e-98aeb7988cd2" "api" "10.0.2.1:80""#,
        Format::Traefik => r#"10.0.0.1 - - [23/Nov/2026:10:00:01 +0000] "GET /api HTTP/1.1" 502 11 "-" "curl/7.88.1" 42 "api@docker" "http://172.18.0.5:80" 3ms"#,
        Format::PhpError => "[23-Nov-2026 10:00:01 UTC] PHP Fatal error:  Allowed memory size of 134217728 bytes exhausted (tried to allocate 20480 bytes) in /srv/app/index.php on line 12",
        Format::Caddy => r#"{"level":"error","ts":1795428001.25,"logger":"http.log.access.log0","msg":"handled request","request":{"remote_ip":"127.0.0.1","proto":"HTTP/1.1","method":"GET","host":"localhost","uri":"/index.php"},"duration":0.0003,"size":0,"status":502}"#,
        Format::Kernel => "Nov 23 10:00:01 web1 kernel: [123456.789012] Out of memory: Killed process 1234 (php-fpm8.2) total-vm:524288kB, anon-rss:262144kB, file-rss:0kB, shmem-rss:0kB, UID:33 pgtables:1024kB oom_score_adj:0",
    }
}

pub fn what(f: Format) -> &'static str {
    match f {
        Format::NginxAccess => "nginx access log: any log_format (default combined; --log-format, --nginx-conf), plain or escape=json",
        Format::NginxError => "nginx error log (multi-line FastCGI stderr entries joined)",
        Format::FpmError => "php-fpm master log (with or without microseconds or a syslog prefix)",
        Format::FpmSlow => "php-fpm slowlog (multi-line stack traces)",
        Format::FpmAccess => "php-fpm access log (access.format; pass it with --log-format and --format fpm-access)",
        Format::Alb => "AWS Application Load Balancer access log",
        Format::Elb => "AWS Classic Load Balancer access log",
        Format::Slb => "Alibaba Cloud SLB/ALB layer-7 access log read back from Log Service (JSON)",
        Format::Haproxy => "HAProxy option httplog, with or without a syslog prefix",
        Format::Envoy => "Envoy access log, default format or JSON",
        Format::Traefik => "Traefik access log, CLF or JSON",
        Format::PhpError => "PHP's own error_log (fatal errors, memory and time limits; stack traces joined)",
        Format::Caddy => "Caddy JSON access log and its reverse-proxy error entries",
        Format::Kernel => "kernel lines (kern.log, dmesg -T, journalctl -k): OOM kills, SYN flooding, conntrack full",
    }
}

pub fn run() -> Result<Exit, UserError> {
    let mut s = String::new();
    for f in Format::ALL {
        s.push_str(&format!(
            "{:<13} [{}] {}\n    e.g. {}\n",
            f.id(),
            f.layer().id(),
            what(f),
            example(f)
        ));
    }
    super::emit(&s)?;
    Ok(Exit::Ok)
}
