use super::stt::language_code;

#[test]
fn language_names_become_codes() {
    assert_eq!(language_code("portuguese"), "pt");
    assert_eq!(language_code("EN"), "en");
    assert_eq!(language_code("xx"), "xx");
}
