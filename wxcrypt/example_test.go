package wxcrypt_test

import (
	"fmt"

	"github.com/wxgate/wxgate/wxcrypt"
)

// The URL verification example from WeChat's documentation.
func ExampleSignature() {
	fmt.Println(wxcrypt.Signature("AAAAA", "1714036504", "1514711492"))
	// Output: f464b24fc39322e44b38aa78f5edd27bd1441696
}

// Open a safe-mode envelope with the current key or the previous one, and
// seal the reply with whichever key opened it.
func ExampleCipher_Decrypt() {
	current := wxcrypt.MustParseKey("AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA")
	previous := wxcrypt.MustParseKey("abcdefghijklmnopqrstuvwxyz0123456789ABCDEFG")
	c, err := wxcrypt.NewCipher("wxba5fad812f8e6fb9", current, previous)
	if err != nil {
		panic(err)
	}
	// Sealed before the rotation, with the previous key.
	encrypt, _ := previous.Encrypt(nil, []byte(`{"MsgType":"text","Content":"hi"}`), "wxba5fad812f8e6fb9")

	msg, key, err := c.Decrypt([]byte(encrypt))
	fmt.Println(string(msg), err, key == previous)
	// Output: {"MsgType":"text","Content":"hi"} <nil> true
}

func ExampleGenerateEncodingAESKey() {
	key, _ := wxcrypt.GenerateEncodingAESKey()
	token, _ := wxcrypt.GenerateToken()
	fmt.Println(len(key), len(token))
	// Output: 43 32
}
