fn main() {
    println!("boocode");
}
