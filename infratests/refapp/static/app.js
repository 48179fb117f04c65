// refapp static script
console.log("refapp");
