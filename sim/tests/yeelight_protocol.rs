//! The simulated bulb speaks the Yeelight LAN protocol as a third-party
//! client expects: these tests drive it over plain TCP and UDP.

use hub_sim::yeelight::{SimConfig, YeelightSim};
use serde_json::{Value, json};
use std::net::SocketAddr;
use std::time::Duration;
use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader, Lines};
use tokio::net::tcp::OwnedReadHalf;
use tokio::net::{TcpStream, UdpSocket};

struct Conn {
    lines: Lines<BufReader<OwnedReadHalf>>,
    write: tokio::net::tcp::OwnedWriteHalf,
}

impl Conn {
    async fn open(addr: SocketAddr) -> Conn {
        let (read, write) = TcpStream::connect(addr)
            .await
            .expect("connect")
            .into_split();
        Conn {
            lines: BufReader::new(read).lines(),
            write,
        }
    }

    async fn send(&mut self, raw: &str) {
        self.write.write_all(raw.as_bytes()).await.expect("write");
    }

    async fn next(&mut self) -> Value {
        let line = tokio::time::timeout(Duration::from_secs(5), self.lines.next_line()).await;
        let line = line
            .expect("a line within 5 s")
            .expect("read")
            .expect("open connection");
        assert!(!line.contains('\n'));
        serde_json::from_str(&line).expect("JSON line")
    }
}

async fn sim(count: usize) -> YeelightSim {
    YeelightSim::start(SimConfig::loopback(count))
        .await
        .expect("start the simulator")
}

#[tokio::test]
async fn commands_get_results_and_changes_reach_every_connection() {
    let sim = sim(1).await;
    let addr = sim.bulbs()[0].control_addr();
    let (mut a, mut b) = (Conn::open(addr).await, Conn::open(addr).await);
    a.send("{\"id\":1,\"method\":\"get_prop\",\"params\":[\"power\",\"bright\",\"nonsense\"]}\r\n")
        .await;
    assert_eq!(a.next().await, json!({"id": 1, "result": ["on", "80", ""]}));
    a.send("{\"id\":2,\"method\":\"set_power\",\"params\":[\"off\",\"smooth\",500]}\r\n")
        .await;
    assert_eq!(a.next().await, json!({"id": 2, "result": ["ok"]}));
    let note = json!({"method": "props", "params": {"power": "off"}});
    assert_eq!(
        a.next().await,
        note,
        "the sender is notified after its result"
    );
    assert_eq!(b.next().await, note, "every other connection is notified");
    a.send("{\"id\":3,\"method\":\"set_bright\",\"params\":[30,\"sudden\",0]}\r\n")
        .await;
    assert_eq!(a.next().await, json!({"id": 3, "result": ["ok"]}));
    assert_eq!(
        b.next().await,
        json!({"method": "props", "params": {"bright": "30"}})
    );
}

#[tokio::test]
async fn errors_for_unknown_methods_bad_params_and_garbage() {
    let sim = sim(1).await;
    let mut c = Conn::open(sim.bulbs()[0].control_addr()).await;
    c.send("{\"id\":1,\"method\":\"fly\",\"params\":[]}\r\n")
        .await;
    assert_eq!(
        c.next().await,
        json!({"id": 1, "error": {"code": -1, "message": "method not supported"}})
    );
    c.send("{\"id\":2,\"method\":\"set_bright\",\"params\":[101,\"smooth\",500]}\r\n")
        .await;
    assert_eq!(c.next().await["error"]["message"], "invalid params");
    c.send("{\"id\":3,\"method\":\"set_power\",\"params\":[\"on\",\"smooth\",5]}\r\n")
        .await;
    assert_eq!(
        c.next().await["error"]["message"],
        "invalid params",
        "smooth needs at least 30 ms"
    );
    c.send("not json\r\n").await;
    assert_eq!(c.next().await["error"]["message"], "invalid command");
}

#[tokio::test]
async fn whitespace_between_commands_is_tolerated() {
    let sim = sim(1).await;
    let mut c = Conn::open(sim.bulbs()[0].control_addr()).await;
    c.send("  {\"id\":1,\"method\":\"get_prop\",\"params\":[\"ct\"]}\r\n\r\n \t{\"id\":2, \"method\" : \"get_prop\", \"params\":[\"power\"]}  {\"id\":3,\"method\":\"toggle\",\"params\":[]}\r\n").await;
    assert_eq!(c.next().await, json!({"id": 1, "result": ["4000"]}));
    assert_eq!(c.next().await, json!({"id": 2, "result": ["on"]}));
    assert_eq!(c.next().await, json!({"id": 3, "result": ["ok"]}));
}

#[tokio::test]
async fn discovery_answers_one_reply_per_bulb() {
    let sim = sim(3).await;
    let socket = UdpSocket::bind("127.0.0.1:0").await.expect("bind");
    let search = "M-SEARCH * HTTP/1.1\r\nHOST: 239.255.255.250:1982\r\nMAN: \"ssdp:discover\"\r\nST: wifi_bulb\r\n";
    socket
        .send_to(search.as_bytes(), sim.discovery_addr())
        .await
        .expect("send");
    let mut buf = vec![0u8; 2048];
    let mut seen = Vec::new();
    for _ in 0..3 {
        let (n, _) = tokio::time::timeout(Duration::from_secs(5), socket.recv_from(&mut buf))
            .await
            .expect("reply")
            .expect("recv");
        let reply = String::from_utf8_lossy(&buf[..n]).to_string();
        assert!(reply.starts_with("HTTP/1.1 200 OK\r\n"), "{reply}");
        for header in [
            "id: 0x",
            "model: color",
            "fw_ver: ",
            "support: get_prop",
            "power: on",
            "bright: 80",
        ] {
            assert!(reply.contains(header), "{header} missing from {reply}");
        }
        seen.push(reply);
    }
    for bulb in sim.bulbs() {
        let location = format!("Location: yeelight://{}\r\n", bulb.control_addr());
        assert!(
            seen.iter()
                .any(|r| r.contains(&location) && r.contains(bulb.id())),
            "{location}"
        );
    }
}

#[tokio::test]
async fn a_fifth_connection_is_refused_and_the_quota_is_sixty_a_minute() {
    let sim = sim(1).await;
    let addr = sim.bulbs()[0].control_addr();
    let mut open = Vec::new();
    for _ in 0..4 {
        open.push(Conn::open(addr).await);
    }
    let mut fifth = Conn::open(addr).await;
    fifth
        .send("{\"id\":1,\"method\":\"get_prop\",\"params\":[\"power\"]}\r\n")
        .await;
    let closed = tokio::time::timeout(Duration::from_secs(5), fifth.lines.next_line())
        .await
        .expect("closed in time");
    assert!(
        matches!(closed, Ok(None) | Err(_)),
        "the fifth connection was served: {closed:?}"
    );
    let c = &mut open[0];
    for id in 1..=60 {
        c.send(&format!(
            "{{\"id\":{id},\"method\":\"get_prop\",\"params\":[\"power\"]}}\r\n"
        ))
        .await;
        assert_eq!(c.next().await["id"], id);
    }
    c.send("{\"id\":61,\"method\":\"get_prop\",\"params\":[\"power\"]}\r\n")
        .await;
    assert_eq!(c.next().await["error"]["message"], "client quota exceeded");
}
