fn main() { println!("{}", engine::answer()); }
